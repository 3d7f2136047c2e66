"""Real servers for the deployment tests: PgBouncer and PostgreSQL clusters of the test's own.

Each helper skips its test with the reason when the machine lacks the program (never silently).
Daemons that refuse to run as root (pgbouncer, postgres) run as the `postgres` user when the tests
run as root, as Debian's packages do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.cli.test_serve import free_port

PG_BIN = Path(os.environ.get("WACRM_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def need(program: str, package: str) -> str:
    """The program's path, or skip the test saying which Debian package provides it."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if not path:
        pytest.skip(f"{program} is not installed (Debian package {package}; .ci/run installs it)")
    return path


def run_as() -> list[str]:
    """The prefix that runs a daemon as `postgres` when we are root (they refuse root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user to run the database daemons")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def daemon_dir(name: str) -> Iterator[Path]:
    """A folder of its own under /tmp that the daemon's user may write; removed afterwards.

    Not under pytest's tmp_path: that is private to root (0700) and pruned by concurrent runs.
    """
    path = Path(tempfile.mkdtemp(prefix=f"wacrm-{name}-"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_connect(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def pgbouncer(server_url: str, *, pool_size: int = 10) -> Iterator[str]:
    """Debian's PgBouncer in transaction mode in front of the server of `server_url`; yields the
    URL of the same database through it."""
    binary = need("pgbouncer", "pgbouncer")
    with daemon_dir("pgbouncer") as folder:
        yield from _pgbouncer(binary, folder, server_url, pool_size)


def _pgbouncer(binary: str, folder: Path, server_url: str, pool_size: int) -> Iterator[str]:
    info = conninfo_to_dict(server_url)
    if str(info.get("host", "/")).startswith("/") and run_as():
        pytest.skip(
            "the test server listens on a socket private to root (the embedded server) and"
            " pgbouncer must run as `postgres`: set TEST_DATABASE_URL to a TCP server"
        )
    port = free_port()
    target = " ".join(f"{k}={info[k]}" for k in ("host", "port", "user", "password") if info.get(k))
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = {target}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 400
ignore_startup_parameters = extra_float_digits,options
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""
    )
    if os.geteuid() == 0:
        shutil.chown(folder / "pgbouncer.ini", "postgres", "postgres")
    proc = subprocess.Popen(
        [*run_as(), binary, str(folder / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = make_conninfo(server_url, host="127.0.0.1", port=str(port), password=None)
    url = make_conninfo(url, user=info.get("user") or "postgres")
    try:
        try:
            wait_connect(url, timeout=20)
        except psycopg.OperationalError as exc:
            log = folder / "pgbouncer.log"
            raise AssertionError(
                f"pgbouncer did not start: {log.read_text()[-2000:] if log.exists() else exc}"
            ) from exc
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def pg_tool(name: str) -> str:
    path = PG_BIN / name
    if not path.exists():
        pytest.skip(f"{path} is missing (Debian package postgresql-15; .ci/run installs it)")
    return str(path)


def as_daemon(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run a PostgreSQL tool as the daemon's user; fail the test with its output."""
    done = subprocess.run([*run_as(), *args], capture_output=True, timeout=120, **kwargs)
    if done.returncode:
        raise AssertionError(f"{args[0]} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return done


@dataclass
class Server:
    """A PostgreSQL server of the test's own (Debian's binaries), on 127.0.0.1:port."""

    data: Path
    port: int

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> Server:
        as_daemon(
            [
                pg_tool("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                f"{self.data}.log",
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
                " -c fsync=off -c full_page_writes=off -c shared_buffers=16MB",
                "start",
            ]
        )
        wait_connect(self.url())
        return self

    def stop(self) -> None:
        subprocess.run(
            [*run_as(), pg_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )


@contextmanager
def primary_and_replica() -> Iterator[tuple[Server, Server]]:
    """A primary (initdb) and a streaming replica of it (pg_basebackup -R), both started."""
    initdb, basebackup = pg_tool("initdb"), pg_tool("pg_basebackup")
    with daemon_dir("primary") as folder:
        primary = Server(folder / "primary", free_port())
        replica = Server(folder / "replica", free_port())
        as_daemon([initdb, "-D", str(primary.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        try:
            primary.start()
            as_daemon(
                [
                    basebackup,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(replica.data),
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                ]
            )
            replica.start()
            yield primary, replica
        finally:
            replica.stop()
            primary.stop()
