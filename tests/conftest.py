"""Test fixtures: a real PostgreSQL (TEST_DATABASE_URL or an embedded one) and one database per test.

A template database is migrated once per run; each test gets a fresh copy (CREATE DATABASE ...
TEMPLATE), so tests are isolated and may run the app, workers and subprocesses against it.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

import wacrm.db.embedded  # noqa: F401 (pgserver never logs to the console, nor from its exit hook)
from wacrm.db.migrate import migrate

pytest_plugins = ["tests.sandbox_fixture"]

DATA_DIR = Path(__file__).parent / "data"
# The suite's secret key (secret_key_in_use; CLI commands run in-process read it from the environment).
os.environ.setdefault("WACRM_SECRET_KEY", "test-secret-key-0123456789-abcdefghijklmnop")


def with_dbname(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def _admin_exec(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session", autouse=True)
def secret_key_from_the_start() -> None:
    """The suite's key before any module-scoped fixture runs (the browser tests' CRM configures
    its WhatsApp number, with an encrypted token, before the first test's own fixtures)."""
    _use_suite_key()


@pytest.fixture(autouse=True)
def secret_key_in_use() -> Iterator[None]:
    """Services a test calls directly encrypt with the suite's key (entry points set their own),
    and the suite's key is back after the test: an entry point it ran (the CLI with another key)
    must not leave its key to the next module's fixtures (they encrypt before any test runs)."""
    _use_suite_key()
    yield
    _use_suite_key()


def _use_suite_key() -> None:
    from wacrm.security import crypto

    crypto.use_key(lambda: os.environ["WACRM_SECRET_KEY"])


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of a maintenance database on the server the tests use.

    The embedded server's data lives outside pytest's tmp folders, which concurrent pytest runs
    prune, and is removed at the end of the run.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    import shutil
    import tempfile

    from wacrm.db.embedded import start_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="wacrm-test-pg-"))
    url, handle = start_embedded(data_dir, cleanup_mode="stop")
    yield url
    handle.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


class Dropper:
    """Drops test databases in background threads, so a test's teardown does not wait for it.

    Several at once (each DROP DATABASE waits for a checkpoint; drops in flight together share
    one), and a bound on the backlog: a new database waits while `BACKLOG` drops are pending.
    Without it a busy server fell behind (3,000 databases waiting, checkpoints of 6 minutes
    syncing 377,000 files, the disk filling)."""

    BACKLOG = 8

    def __init__(self, pg_server_url: str) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.url = pg_server_url
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dropdb")
        self.pending = threading.BoundedSemaphore(self.BACKLOG)

    def __call__(self, name: str) -> None:
        self.pool.submit(self._drop, name)

    def _drop(self, name: str) -> None:
        try:
            _admin_exec(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            self.pending.release()

    def create(self, statement: str) -> None:
        """Run a CREATE DATABASE once the backlog has room (the room is released by its drop)."""
        self.pending.acquire()
        try:
            _admin_exec(self.url, statement)
        except BaseException:
            self.pending.release()
            raise


@pytest.fixture(scope="session")
def dropper(pg_server_url: str) -> Iterator[Dropper]:
    drops = Dropper(pg_server_url)
    with drops.pool:
        yield drops


def _test_db_name(kind: str) -> str:
    """`wacrm_<kind>_<epoch seconds>_<random>`: its age tells a leftover from a live one."""
    return f"wacrm_{kind}_{int(time.time())}_{uuid.uuid4().hex[:10]}"


STALE_AFTER_S = 3 * 3600  # no test run lasts this long: older databases are a killed run's

_LEFTOVERS = """
SELECT datname FROM pg_database d
WHERE datname ~ '^wacrm_(t|e|tpl)_[0-9]{10}_'
  AND split_part(datname, '_', 3)::bigint < extract(epoch FROM now()) - %s
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
"""


def drop_leftovers(pg_server_url: str) -> int:
    """Drop the test databases of runs that were killed (old, nobody connected); returns how many.

    Each one left behind makes every CREATE/DROP DATABASE slower and fills the server's disk."""
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(_LEFTOVERS, (STALE_AFTER_S,)).fetchall()]
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return len(names)


@pytest.fixture(scope="session")
def template_url(pg_server_url: str) -> Iterator[str]:
    drop_leftovers(pg_server_url)
    name = _test_db_name("tpl")
    _admin_exec(pg_server_url, f'CREATE DATABASE "{name}"')
    url = with_dbname(pg_server_url, name)
    migrate(url)
    yield url
    _admin_exec(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_url(pg_server_url: str, dropper: Any) -> Iterator[str]:
    """A brand-new, empty database (not migrated)."""
    name = _test_db_name("e")
    dropper.create(f'CREATE DATABASE "{name}"')
    yield with_dbname(pg_server_url, name)
    dropper(name)


@pytest.fixture
def db_url(pg_server_url: str, template_url: str, dropper: Any) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = _test_db_name("t")
    template = conninfo_to_dict(template_url)["dbname"]
    dropper.create(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield with_dbname(pg_server_url, name)
    dropper(name)


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(
        db_url, row_factory=dict_row, autocommit=True
    ) as connection:
        yield connection


@pytest.fixture
def sync_conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, row_factory=dict_row, autocommit=True) as connection:
        yield connection


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    """Test settings: a data folder of the test's own, a fixed secret key, inline webhook processing."""
    from wacrm.config import Settings

    return Settings(
        WACRM_ENV="test",
        WACRM_DATA_DIR=tmp_path / "data",
        WACRM_SECRET_KEY="test-secret-key-0123456789-abcdefghijklmnop",
        WACRM_RUN_WORKER=False,
        # processed before the 200, so a test sees a webhook's rows as soon as it is answered
        # (deferred processing, the default, is tested in tests/inbound/test_deferred.py)
        WACRM_WEBHOOK_PROCESSING="inline",
        WACRM_PUBLIC_URL="http://testserver",
        WACRM_DB_POOL_SIZE=4,
    )


@pytest.fixture
async def app(db_url: str, settings: Any) -> AsyncIterator[Any]:
    """The ASGI app on this test's database, with its lifespan running (no in-process worker)."""
    from wacrm.app import create_app

    application = create_app(settings, database_url=db_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    """An httpx client talking to the app in-process."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
