"""The benchmark environment: machine description, throw-away databases, CRM processes on loopback."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
WACRM = [sys.executable, "-m", "wacrm"]


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python version, git commit (PostgreSQL's version: `server_info`)."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "git_commit": commit + ("+uncommitted changes in src" if dirty else ""),
    }


def server_info(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT version(), current_setting('synchronous_commit'), current_setting('fsync'),"
            " current_setting('shared_buffers')"
        ).fetchone()
    assert row is not None
    return {
        "postgresql": row[0],
        "synchronous_commit": row[1],
        "fsync": row[2],
        "shared_buffers": row[3],
    }


@dataclass
class Server:
    """A PostgreSQL server where the benchmark may create and drop its own databases."""

    url: str
    handle: Any = None
    created: list[str] = field(default_factory=list)
    seeds: dict[tuple[int, int], tuple[str, dict[str, Any]]] = field(default_factory=dict)

    @contextlib.contextmanager
    def database(self, label: str, migrations_dir: Path | None = None) -> Iterator[str]:
        """A fresh migrated database `wacrm_bench_<ts>_<label>`, dropped afterwards
        (`migrations_dir`: another tree's migrations, for A/B runs of source trees)."""
        from wacrm.db.migrate import discover, migrate

        name = f"wacrm_bench_{time.strftime('%Y%m%d%H%M%S')}_{label}_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
            )
        self.created.append(name)
        url = make_conninfo(self.url, dbname=name)
        try:
            migrate(url, discover(migrations_dir) if migrations_dir else None)
            yield url
        finally:
            self.drop(name)

    @contextlib.contextmanager
    def seeded(
        self, label: str, *, customers: int, messages: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """A database with one agent seeded by `bench.seed_data.seed` (its result with it): a
        copy of a template seeded once per run, dropped afterwards (the inbox and team
        benchmarks seed the same 1,000,000 messages: ~1.5-3 min each; a copy takes seconds)."""
        key = (customers, messages)
        if key not in self.seeds:
            self.seeds[key] = self._seed_template(customers, messages)
        template, seeded = self.seeds[key]
        name = f"wacrm_bench_{time.strftime('%Y%m%d%H%M%S')}_{label}_{uuid.uuid4().hex[:4]}"
        started = time.perf_counter()
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    psycopg.sql.Identifier(name), psycopg.sql.Identifier(template)
                )
            )
        self.created.append(name)
        copied = {**seeded, "copied_from_template_s": round(time.perf_counter() - started, 1)}
        try:
            yield make_conninfo(self.url, dbname=name), copied
        finally:
            self.drop(name)

    def _seed_template(self, customers: int, messages: int) -> tuple[str, dict[str, Any]]:
        from bench.seed_data import seed
        from wacrm.db.migrate import migrate

        name = f"wacrm_bench_{time.strftime('%Y%m%d%H%M%S')}_seed_{uuid.uuid4().hex[:4]}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
            )
        self.created.append(name)
        url = make_conninfo(self.url, dbname=name)
        migrate(url)
        use_crm_settings(url)
        return name, seed(url, customers=customers, messages=messages)

    def drop_seeds(self) -> None:
        for template, _ in self.seeds.values():
            self.drop(template)
        self.seeds.clear()

    def drop(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(name)
                )
            )
        if name in self.created:
            self.created.remove(name)


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def postgres() -> Iterator[Server]:
    """BENCH_DATABASE_URL / DATABASE_URL, else the machine's server on 5432, else an embedded one."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    handle = None
    if not url and _reachable(DEFAULT_SERVER):
        url = DEFAULT_SERVER
    if not url:
        from wacrm.db.embedded import start_embedded

        url, handle = start_embedded(Path(tempfile.mkdtemp(prefix="wacrm-bench-pg-")))
    server = Server(url, handle)
    try:
        yield server
    finally:
        for name in list(server.created):
            with contextlib.suppress(psycopg.Error):
                server.drop(name)
        del handle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crm_env(db_url: str, **extra: str) -> dict[str, str]:
    """Environment of the CRM's processes: this database, no in-process worker, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WACRM_", "WHATSAPP_"))}
    env.update(
        DATABASE_URL=db_url,
        WACRM_RUN_WORKER="false",
        WACRM_LOG_LEVEL="warning",
        WACRM_SECRET_KEY=SECRET_KEY,
        WACRM_DATA_DIR=tempfile.mkdtemp(prefix="wacrm-bench-data-"),
        WACRM_ENV="development",
        # the tree being measured first (before an editable install of another checkout)
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    )
    env.update(extra)
    return env


def use_crm_settings(db_url: str, **extra: str) -> None:
    """Make this process's settings match the CRM processes' (same secret key): the benchmark is
    the entry point of the services it calls itself."""
    from wacrm.config import get_settings
    from wacrm.security import crypto

    os.environ.update({k: v for k, v in crm_env(db_url, **extra).items() if k.startswith("WACRM_")})
    get_settings.cache_clear()
    crypto.use_key(get_settings().effective_secret_key)


class Process:
    """A child process (its own session) stopped with SIGTERM, then SIGKILL, by its id."""

    def __init__(self, args: list[str], env: dict[str, str], name: str) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"wacrm-bench-{name}-", suffix=".log")[1])
        self.popen = subprocess.Popen(  # noqa: S603
            args,
            env=env,
            cwd=ROOT,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def rss_mib(self) -> list[float]:
        """Resident memory of the process and each child, MiB (the web processes with --workers)."""
        proc = psutil.Process(self.pid)
        procs = [proc, *proc.children(recursive=True)]
        return [round(p.memory_info().rss / 2**20, 1) for p in procs if p.is_running()]

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(5)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_http(proc: Process, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2, trust_env=False).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout}s:\n{proc.tail()}")


def start_crm(db_url: str, *, workers: int = 1, port: int | None = None) -> tuple[Process, str]:
    """`wacrm serve` on loopback (no in-process worker, log level warning); (process, base URL)."""
    port = port or free_port()
    proc = Process(
        [*WACRM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        crm_env(db_url, WACRM_PUBLIC_URL=f"http://127.0.0.1:{port}"),
        f"serve-{workers}w",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(proc, f"{base}/healthz")
    except BaseException:
        proc.stop()
        raise
    return proc, base


def start_processor(db_url: str) -> Process:
    """`wacrm webhooks process`: a journal processor alone (deferred webhooks → messages)."""
    return Process([*WACRM, "webhooks", "process"], crm_env(db_url), "journal-processor")


def start_bare(*, workers: int = 1, port: int | None = None) -> tuple[Process, str]:
    """The bare endpoint (bench/bare_app.py) under uvicorn with the CRM's server settings."""
    port = port or free_port()
    proc = Process(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--proxy-headers",
            "--timeout-graceful-shutdown",
            "10",
        ],
        {**os.environ, "PYTHONPATH": str(ROOT)},
        f"bare-{workers}w",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(proc, f"{base}/healthz")
    except BaseException:
        proc.stop()
        raise
    return proc, base


def db_name(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname", ""))
