"""A broadcast's recipients get one message each even when two queue jobs run at once (a job
run again after its worker looked dead while the first still works): chunks take turns."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.outbound.conftest import wait_until
from wacrm.broadcasts import service


async def _locks_waited(conn: Any) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    return (await cur.fetchone())["n"]


async def test_two_queue_jobs_at_once_send_each_recipient_once(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    tables = shop["tables"]
    cur = await conn.execute(
        """INSERT INTO broadcasts (agent_id, name, template_name, template_language, params,
             audience, scheduled_at, state, started_at)
           VALUES (%s, 'sale', 'hello_world', 'en_US', '[]', %s, now(), 'running', now())
           RETURNING *""",
        (tables.agent_id, json.dumps({})),
    )
    broadcast = dict(await cur.fetchone())
    await conn.execute(
        tables.query(
            "INSERT INTO broadcast_recipients (broadcast_id, customer_id)"
            " SELECT %s, id FROM {customers}"
        ),
        (broadcast["id"],),
    )
    opts: dict[str, Any] = {"row_factory": dict_row, "autocommit": True}
    async with (
        await psycopg.AsyncConnection.connect(db_url, **opts) as holder,
        await psycopg.AsyncConnection.connect(db_url, **opts) as first,
        await psycopg.AsyncConnection.connect(db_url, **opts) as second,
    ):
        async with holder.transaction():  # both jobs start while the customers are busy
            await holder.execute(tables.query("SELECT id FROM {customers} FOR UPDATE"))
            jobs = [
                asyncio.create_task(service.queue_chunk(c, tables=tables, broadcast=broadcast))
                for c in (first, second)
            ]
            assert await wait_until(lambda: _is_two(conn), 20)
        done = await asyncio.gather(*jobs)
    assert sorted(done) == [0, 5]  # the second found nothing left to queue
    cur = await conn.execute(
        tables.query(
            "SELECT customer_id, count(*) AS n FROM {messages}"
            " WHERE direction = 'outbound' AND wa_type = 'template' GROUP BY customer_id"
        )
    )
    counts = {r["customer_id"]: r["n"] for r in await cur.fetchall()}
    assert len(counts) == 4 and set(counts.values()) == {1}, counts


async def _is_two(conn: Any) -> bool:
    return await _locks_waited(conn) >= 2
