"""`wacrm serve` and `wacrm migrate` as processes: embedded database, restarts, clean failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

WACRM = [sys.executable, "-m", "wacrm"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WACRM_", "DATABASE_URL"))}
    env.update(
        {
            "WACRM_DATA_DIR": str(tmp_path / "data"),
            "WACRM_SECRET_KEY": "x" * 40,
            "WACRM_RUN_WORKER": "false",
            "WACRM_ADMIN_EMAIL": "boss@example.com",
            "WACRM_ADMIN_PASSWORD": "a-long-enough-passphrase-1",
        }
    )
    env.update(extra)
    return env


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            response = httpx.get(url + "/readyz", timeout=1)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready in time")


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM; a graceful shutdown logs its completion (uvicorn then re-raises the signal)."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert "shutting down" in err, err
    return 0 if proc.returncode in (0, -signal.SIGTERM) else proc.returncode


def test_serve_on_database_url(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*WACRM, "serve", "--port", str(port)],
        env=env_for(tmp_path, DATABASE_URL=db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}", proc)
        assert ready.json()["ready"] is True
    finally:
        assert stop(proc) == 0  # graceful shutdown


def test_embedded_database_survives_restart(tmp_path: Path) -> None:
    """Serve on the embedded server, write, stop; serve again: the data is still there."""
    env = env_for(tmp_path)
    for round_ in range(2):
        port = free_port()
        proc = subprocess.Popen(
            [*WACRM, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc)
        finally:
            assert stop(proc) == 0
        script = (
            "import pgserver,sys; s=pgserver.get_server(sys.argv[1], cleanup_mode='stop');"
            "print(s.psql(sys.argv[2]))"
        )
        pgdata = str(tmp_path / "data" / "pgdata")
        if round_ == 0:
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    script,
                    pgdata,
                    "CREATE TABLE survivor (v text); INSERT INTO survivor VALUES ('kept');",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
        else:
            out = subprocess.run(
                [sys.executable, "-c", script, pgdata, "SELECT v FROM survivor;"],
                capture_output=True,
                text=True,
                check=True,
            )
            assert "kept" in out.stdout
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [*WACRM, "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for(tmp_path, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port}/nowhere"),
    )
    assert result.returncode == 2
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_ahead_is_refused_at_start(db_url: str, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
    result = subprocess.run(
        [*WACRM, "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for(tmp_path, DATABASE_URL=db_url),
    )
    assert result.returncode == 3
    assert "9999" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["migrate", "--help"]])
def test_help(args: list[str]) -> None:
    assert subprocess.run([*WACRM, *args], capture_output=True, timeout=60).returncode == 0
