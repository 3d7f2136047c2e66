"""deploy/compose.yaml: its structure (it pulls postgres and caddy from Docker Hub, which this
machine does not reach, so it is not run as a whole; its CRM image is, in test_image.py), and
`podman-compose config` when podman-compose is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_file_runs_the_crm_as_documented() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "worker", "caddy"}
    assert services["db"]["image"].endswith("postgres:15")
    for name in ("migrate", "web", "worker"):
        crm = services[name]
        assert crm["user"] == "10001:10001", name  # the image's non-root user
        assert "media:/var/lib/wacrm" in crm["volumes"], name
        assert crm["build"]["dockerfile"] == "Dockerfile"
    assert services["migrate"]["command"] == ["wacrm", "migrate"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["web"]["environment"]["WACRM_RUN_WORKER"] == "false"
    assert services["worker"]["command"] == ["wacrm", "worker"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    assert services["caddy"]["environment"]["WACRM_UPSTREAM"] == "web:8000"
    assert services["caddy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert "ports" not in services["web"]  # only Caddy is published
    assert set(compose["volumes"]) == {"pgdata", "media", "caddy"}
    assert (DEPLOY.parent / "Dockerfile").read_text().startswith("#")


def test_podman_compose_plans_it(tmp_path: Path) -> None:
    """`podman-compose --dry-run up`: the commands it would run (its volumes and network go to a
    podman storage of the test's own)."""
    tool = shutil.which("podman-compose")
    if tool is None:
        pytest.skip("podman-compose is not installed (Debian package podman-compose)")
    tree = tmp_path / "tree"
    (tree / "deploy").mkdir(parents=True)
    shutil.copy(DEPLOY.parent / "Dockerfile", tree / "Dockerfile")
    for name in ("compose.yaml", "Caddyfile"):
        shutil.copy(DEPLOY / name, tree / "deploy" / name)
    (tree / "deploy" / ".env").write_text("POSTGRES_PASSWORD=x\nWACRM_DOMAIN=crm.example.com\n")
    (tmp_path / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/storage"\nrunroot = "{tmp_path}/run"\n'
    )
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(tmp_path / "storage.conf")}
    done = subprocess.run(
        [tool, "--dry-run", "-f", "compose.yaml", "up", "-d"],
        cwd=tree / "deploy",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    plan = done.stdout
    subprocess.run(
        ["podman", "network", "rm", "--force", "deploy_default"], env=env, capture_output=True
    )
    subprocess.run(["podman", "system", "reset", "--force"], env=env, capture_output=True)
    assert "wacrm migrate" in plan and "wacrm serve --workers 2" in plan, done.stderr[-2000:]
    assert "-u 10001:10001" in plan and "/readyz" in plan
    assert "DATABASE_URL=postgresql://wacrm:x@db:5432/wacrm" in plan
    assert "-v deploy_pgdata:/var/lib/postgresql/data" in plan
