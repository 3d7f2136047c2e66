"""The container image: built with Debian's podman from the Dockerfile, on a base made here with
mmdebstrap (Debian bookworm's Python 3.11), from wheels downloaded on the host and installed
with --no-index (the build has no network); then migrate, serve (non-root, healthcheck on
/readyz) and a webhook, against the test's PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.test_serve import free_port
from tests.deploy.services import need
from tests.reliability.harness import (
    SECRET_KEY,
    assert_exactly_once,
    provision_agent,
    record,
    signed,
    text_webhooks,
    wait_for,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/wacrm:test"
BASE = "localhost/wacrm-base:bookworm"


class Podman:
    """podman with a storage and configuration of its own (removed at the end)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "containers.conf").write_text(
            "[containers]\n"
            # runc cannot raise the container's limits above what this (nested) machine allows
            'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
            'netns = "host"\n'
            "[engine]\n"
            'runtime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        )
        (folder / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{folder}/storage"\n'
            f'runroot = "{folder}/run"\n'
        )
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(folder / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(folder / "storage.conf"),
        }

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        done = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and done.returncode:
            raise AssertionError(
                f"podman {args[0]} failed: {done.stdout[-2000:]} {done.stderr[-3000:]}"
            )
        return done.stdout.strip()


@pytest.fixture
def podman() -> Iterator[Podman]:
    need("podman", "podman")
    need("runc", "runc")
    if os.geteuid() != 0:
        pytest.skip("rootless podman needs subuid/subgid ranges; this test runs as root (as CI)")
    folder = Path(tempfile_dir())
    tool = Podman(folder)
    try:
        yield tool
    finally:
        tool("rm", "--all", "--force", check=False, timeout=120)
        tool("system", "reset", "--force", check=False, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="wacrm-podman-")


def make_base(podman: Podman) -> None:
    """A Debian bookworm root file system with Python 3.11 (mmdebstrap), imported as BASE."""
    need("mmdebstrap", "mmdebstrap")
    tarball = podman.folder / "base.tar"
    done = subprocess.run(
        [
            "mmdebstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates,passwd",
            "--mode=root",
            "bookworm",
            str(tarball),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode:
        pytest.skip(f"mmdebstrap could not make the base (no Debian mirror?): {done.stderr[-500:]}")
    podman("import", str(tarball), BASE)
    tarball.unlink()


def make_context(podman: Podman) -> Path:
    """The build context: the checkout's files and wheels/ (the CRM's dependencies + hatchling)."""
    context = podman.folder / "context"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for name in files:
        if name and not name.startswith(("tests/", "bench/", "docs/")) and (ROOT / name).is_file():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, context / name)
    wheels = context / "wheels"
    pip = [sys.executable, "-m", "pip"]
    for args in (
        ["wheel", "--wheel-dir", str(wheels), str(ROOT)],
        ["download", "-d", str(wheels), "hatchling>=1.25"],
    ):
        done = subprocess.run([*pip, *args, "-q"], capture_output=True, text=True, timeout=600)
        if done.returncode:
            pytest.skip(f"pip could not fetch the wheels on the host: {done.stderr[-500:]}")
    for built in wheels.glob("wacrm-*.whl"):
        built.unlink()  # the image builds the CRM from the copied source
    return context


def test_image_runs_migrate_serve_and_a_webhook(podman: Podman, db_url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    if str(conninfo_to_dict(db_url).get("host", "/")).startswith("/"):
        pytest.skip(
            "the container reaches PostgreSQL over TCP; the test server (embedded) listens on a"
            " socket: set TEST_DATABASE_URL to a TCP server"
        )
    timings: dict[str, float] = {}
    clock = time.monotonic()
    make_base(podman)
    timings["base_s"] = round(time.monotonic() - clock, 1)
    clock = time.monotonic()
    context = make_context(podman)
    timings["wheels_s"] = round(time.monotonic() - clock, 1)
    clock = time.monotonic()
    podman(
        "build",
        "--quiet",
        "--format",
        "docker",  # keeps HEALTHCHECK (the OCI format has none)
        "--network",
        "none",
        "--build-arg",
        f"BASE={BASE}",
        "--build-arg",
        "PIP_OPTIONS=--no-index --find-links /src/wheels",
        "--tag",
        IMAGE,
        str(context),
        timeout=900,
    )
    timings["build_s"] = round(time.monotonic() - clock, 1)
    clock = time.monotonic()
    image = json.loads(podman("image", "inspect", IMAGE))[0]
    assert image["Config"]["User"] == "wacrm"
    assert "/readyz" in " ".join(image["Healthcheck"]["Test"])

    port = free_port()
    env = [
        f"--env=DATABASE_URL={db_url}",
        f"--env=WACRM_SECRET_KEY={SECRET_KEY}",
        "--env=WACRM_HOST=127.0.0.1",
        f"--env=WACRM_PORT={port}",
        "--env=WACRM_WEBHOOK_PROCESSING=inline",
    ]
    podman("run", "--rm", *env, IMAGE, "wacrm", "migrate", timeout=300)
    agent = provision_agent(db_url)
    podman("volume", "create", "wacrm-data")
    podman(
        "run",
        "--detach",
        "--name",
        "wacrm-web",
        "--volume",
        "wacrm-data:/var/lib/wacrm",
        *env,
        IMAGE,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        state = podman("inspect", "--format", "{{.State.Status}}", "wacrm-web", check=False)
        if state not in ("running", "created", "configured"):
            raise AssertionError(
                f"the container stopped: {podman('logs', 'wacrm-web', check=False)}"
            )
        try:
            return httpx.get(url + "/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 120, "wacrm serve in the container answering /readyz")
    timings["start_s"] = round(time.monotonic() - clock, 1)
    assert podman("exec", "wacrm-web", "id", "-u") == "10001"
    podman("healthcheck", "run", "wacrm-web", timeout=60)  # exit 0: healthy
    webhooks = text_webhooks(3, "in the container")
    for payload, _ in webhooks:
        body, headers = signed(payload)
        assert (
            httpx.post(
                url + "/webhooks/whatsapp", content=body, headers=headers, timeout=10
            ).status_code
            == 200
        )
    assert_exactly_once(db_url, agent["tables"], [w for _, w in webhooks])
    # the data folder is the volume, written by the non-root user
    assert "secret_key" not in podman("exec", "wacrm-web", "ls", "/var/lib/wacrm")
    podman("exec", "wacrm-web", "touch", "/var/lib/wacrm/media-check")
    record("container_image", timings)
