"""A web import is written once even when its job runs again: after its worker died (the import
was left 'running': it is written) and while the first run is still alive (the second leaves)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from tests.helpers import make_agent_user
from wacrm.contacts import imports

CSV = b"Name,Phone\nAda,+4915123456789\nBob,+33612345678\n"


async def _import(conn: Any) -> tuple[dict[str, Any], int]:
    user = await make_agent_user(conn, "shop@example.com")
    agent_id = user["agent"]["id"]
    checked = await imports.check_upload(
        conn, agent_id=agent_id, filename="people.csv", data=CSV, country="DE", created_by=None
    )
    await imports.start(conn, agent_id=agent_id, import_id=checked["id"], skip_invalid=False)
    return user, checked["id"]


async def _state(conn: Any, import_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT state, created_count, done_rows FROM contact_imports WHERE id = %s", (import_id,)
    )
    return await cur.fetchone()


async def _customers(conn: Any, user: dict[str, Any]) -> int:
    cur = await conn.execute(user["tables"].query("SELECT count(*) AS n FROM {customers}"))
    return (await cur.fetchone())["n"]


async def test_a_run_after_its_worker_died_writes_the_import(conn: Any, db_url: str) -> None:
    user, import_id = await _import(conn)
    # the first run claimed it and died before its transaction committed: nothing written
    await conn.execute("UPDATE contact_imports SET state = 'running' WHERE id = %s", (import_id,))
    kwargs = {"row_factory": dict_row, "autocommit": True}
    async with AsyncConnectionPool(db_url, min_size=1, max_size=3, kwargs=kwargs) as pool:
        await imports.run(pool, import_id=import_id)
        assert await _state(conn, import_id) == {
            "state": "done",
            "created_count": 2,
            "done_rows": 2,
        }
        await imports.run(pool, import_id=import_id)  # a late duplicate: nothing more
    assert await _customers(conn, user) == 2
    assert (await _state(conn, import_id))["created_count"] == 2


async def test_a_second_run_while_the_first_writes_leaves_it(conn: Any, db_url: str) -> None:
    user, import_id = await _import(conn)
    kwargs = {"row_factory": dict_row, "autocommit": True}
    async with (
        AsyncConnectionPool(db_url, min_size=1, max_size=3, kwargs=kwargs) as pool,
        await psycopg.AsyncConnection.connect(db_url, **kwargs) as first,
    ):
        async with first.transaction():  # the first run's lock, held while it writes
            await first.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (imports._RUN_LOCK, import_id)
            )
            await imports.run(pool, import_id=import_id)
            assert await _customers(conn, user) == 0
            assert (await _state(conn, import_id))["state"] == "running"
        await imports.run(pool, import_id=import_id)  # as the first would have finished
    assert await _state(conn, import_id) == {"state": "done", "created_count": 2, "done_rows": 2}


async def test_a_file_with_nul_bytes_is_refused_and_nothing_kept(conn: Any) -> None:
    """PostgreSQL keeps no NUL in text or JSON: such a file is a clear 422, not a server error."""
    user = await make_agent_user(conn, "shop@example.com")
    try:
        await imports.check_upload(
            conn,
            agent_id=user["agent"]["id"],
            filename="people.csv",
            data=b"Name,Phone\nA\x00B,+4915123456789\n",
            country="DE",
            created_by=None,
        )
    except imports.ImportError_ as exc:
        assert exc.status == 422 and exc.field == "file" and "not text" in str(exc)
    else:
        raise AssertionError("a file with NUL bytes was accepted")
    cur = await conn.execute("SELECT count(*) AS n FROM contact_imports")
    assert (await cur.fetchone())["n"] == 0
