"""`wacrm serve` on the embedded PostgreSQL (issue 13, the three "Also" paragraphs): a quiet
first start ending with a summary, the server's output in a log file shown on failure, the server
stopped on Ctrl-C and SIGTERM unless another CRM process uses it, and no logging errors at exit."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cli.test_serve import WACRM, free_port, wait_ready


@pytest.fixture
def tmp_path() -> Any:
    """A folder outside pytest's tmp folders, which concurrent pytest runs prune (an initdb in
    one of them failed when another run removed it)."""
    path = Path(tempfile.mkdtemp(prefix="wacrm-serve-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


NOISE = ("initdb", "pg_ctl", "PG_VERSION", "RuntimeDirWarning", "XDG_RUNTIME_DIR", "Logging error")


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A newcomer's environment: no DATABASE_URL, no admin password, no XDG_RUNTIME_DIR."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WACRM_", "DATABASE_URL", "XDG_RUNTIME_DIR"))
    }
    env.update({"WACRM_DATA_DIR": str(tmp_path / "data"), "WACRM_RUN_WORKER": "false", **extra})
    return env


def start(tmp_path: Path, port: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*WACRM, "serve", "--port", str(port), *args],
        env=embedded_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def postmaster(tmp_path: Path) -> psutil.Process:
    pid = int((tmp_path / "data" / "pgdata" / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


def gone(process: psutil.Process, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.1)
    return False


def ended(proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


def test_first_start_is_quiet_and_ends_with_the_summary(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    proc = start(tmp_path, port, "--demo", "--sandbox-port", str(sandbox_port))
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "serve ended early:\n" + "".join(lines)
            lines.append(line)
            if "Stop it with Ctrl-C" in line:
                break
    finally:
        code, rest = ended(proc, signal.SIGINT)
    text = "".join(lines)
    assert not [n for n in NOISE if n in text + rest], text + rest
    assert len(lines) < 20, text  # it was ~100 lines
    data = tmp_path / "data"
    admin = dict(
        line.split(": ", 1) for line in (data / "initial-admin.txt").read_text().splitlines()
    )
    demo = json.loads((data / "demo.json").read_text())
    block = text[text.index("is ready") :]
    assert f"http://127.0.0.1:{port}" in block
    assert re.search(rf"Admin login: +{admin['email']} / {re.escape(admin['password'])}", block)
    assert re.search(rf"Demo agent login: +\S+@\S+ / {re.escape(demo['agent_password'])}", block)
    assert f"http://127.0.0.1:{sandbox_port}/sandbox/" in block
    assert block.rstrip().endswith("Stop it with Ctrl-C.")
    server_log = (data / "embedded-postgres.log").read_text()
    assert "initdb" in server_log and "server started" in server_log


def test_ctrl_c_and_sigterm_stop_the_embedded_server(tmp_path: Path) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        port = free_port()
        proc = start(tmp_path, port)
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc, timeout=120)
            server = postmaster(tmp_path)
        finally:
            code, out = ended(proc, sig)
        # Ctrl-C: a normal exit; SIGTERM: ended by the signal, as services are expected to be
        assert code == (0 if sig == signal.SIGINT else -signal.SIGTERM), (sig, code, out)
        assert gone(server), f"PostgreSQL still runs after {sig.name}"
        assert "Traceback" not in out and "Logging error" not in out, out


def test_another_crm_process_keeps_it_running_until_it_ends(tmp_path: Path) -> None:
    one_port, two_port = free_port(), free_port()
    one = start(tmp_path, one_port)
    wait_ready(f"http://127.0.0.1:{one_port}", one, timeout=120)
    two = start(tmp_path, two_port)
    try:
        wait_ready(f"http://127.0.0.1:{two_port}", two, timeout=120)
        server = postmaster(tmp_path)
        ended(one, signal.SIGTERM)
        assert not gone(server, timeout=3), "stopped while another CRM process used it"
        wait_ready(f"http://127.0.0.1:{two_port}", two, timeout=10)
        # a process that died without leaving (SIGKILL) does not keep it running forever
        pids = tmp_path / "data" / "pgdata" / ".handle_pids.json"
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        pids.write_text(json.dumps([*json.loads(pids.read_text()), dead.pid]))
    finally:
        ended(two, signal.SIGTERM)
    assert gone(server), "PostgreSQL still runs after the last CRM process ended"


def test_a_failing_start_shows_the_servers_log(tmp_path: Path) -> None:
    pgdata = tmp_path / "data" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("15\n")  # a broken data folder: no configuration files
    result = subprocess.run(
        [*WACRM, "serve", "--port", str(free_port())],
        env=embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "could not start the embedded PostgreSQL" in result.stderr
    assert "embedded-postgres.log (last lines)" in result.stderr
    assert "postgresql.conf" in result.stderr  # the server's own reason, from pgdata/log
    assert "Traceback" not in result.stderr


def test_the_exit_hook_logs_nothing_to_closed_streams(tmp_path: Path) -> None:
    """pgserver logs from an exit hook; test and CLI runners have closed their streams by then."""
    script = (
        "import io, logging, sys\n"
        "from pathlib import Path\n"
        "from wacrm.db.embedded import start_embedded\n"
        "stream = io.StringIO()\n"
        "logging.basicConfig(stream=stream, level=logging.INFO)\n"
        "url, handle = start_embedded(Path(sys.argv[1]))\n"
        "stream.close()  # as pytest's capture, before the exit hooks run\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data")],
        env=embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Logging error" not in result.stderr and "closed file" not in result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert "exiting" in (tmp_path / "data" / "embedded-postgres.log").read_text()
