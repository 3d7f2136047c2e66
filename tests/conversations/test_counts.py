"""The kept counts per status (migration 0115) equal a count of the conversations after every
kind of change, also changes made at the same moment by several connections, and folding."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.conversations.factory import add_customer, add_message, new_agent
from tests.helpers import make_user
from wacrm.agents.tables import AgentTables
from wacrm.conversations import filters, snooze, state
from wacrm.members import service as members
from wacrm.ops.erase import erase_customer

STATUSES = ("open", "pending", "snoozed", "resolved")


async def _labels(conn: Any, t: AgentTables, *names: str) -> list[int]:
    ids = []
    for name in names:
        cur = await conn.execute(
            "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, %s, '#123456')"
            " RETURNING id",
            (t.agent_id, name),
        )
        ids.append((await cur.fetchone())["id"])
    return ids


async def _assert_exact(conn: Any, t: AgentTables, me: Any, labels: list[int], others: list[Any]):
    """Every kept count (each label or none, each assignee filter) equals a count of the rows."""
    for label in [None, *labels]:
        for assignee in [None, "me", "none", *(str(o) for o in others)]:
            team = filters.TeamFilter(me=me, status="all", assignee=assignee, label_id=label)
            kept = await filters.status_counts(conn, tables=t, team=team)
            counted = await filters.count_by_status(conn, tables=t, team=team)
            assert kept == counted, (label, assignee, kept, counted)


async def test_counts_follow_every_change(conn):
    t = await new_agent(conn)
    cur = await conn.execute("SELECT user_id FROM agents WHERE id = %s", (t.agent_id,))
    owner = (await cur.fetchone())["user_id"]
    mia = await make_user(conn, email="mia@example.com", role="agent")
    await members.add_member(conn, agent_id=t.agent_id, email="mia@example.com")
    vip, rare = await _labels(conn, t, "vip", "rare")
    ids = [await add_customer(conn, t, f"c{n}", phone=f"+4915100000{n:02d}") for n in range(12)]
    # several rows in one statement, with a status and an assignee already set
    await conn.execute(
        t.query(
            "INSERT INTO {customers} (name, phone, conversation_status, assignee_id)"
            " SELECT 'bulk' || n, '+4917000000' || n, (ARRAY['pending', 'resolved'])[1 + n %% 2],"
            " CASE WHEN n %% 3 = 0 THEN %s::uuid END FROM generate_series(1, 9) n"
        ),
        (mia,),
    )
    await _assert_exact(conn, t, owner, [vip, rare], [mia])
    changes: list[dict[str, Any]] = [
        {"status": "resolved", "labels": ["vip"]},
        {"assignee_id": mia, "labels": ["vip", "rare"]},
        {"status": "pending", "assignee_id": owner},
        {"labels": []},
        {"status": "snoozed"},
        {"labels": ["rare"], "status": "open", "assignee_id": None},
    ]
    for n, change in enumerate(changes * 3):
        await state.update(
            conn, tables=t, agent_id=t.agent_id, customer_id=ids[n % 12], actor_id=owner, **change
        )
    await _assert_exact(conn, t, owner, [vip, rare], [mia])
    # an inbound message reopens a resolved/snoozed conversation (the trigger of step 61)
    for cid in ids:
        await add_message(conn, t, cid, "hello again")
    await _assert_exact(conn, t, owner, [vip, rare], [mia])
    # the snooze job, a removed member (conversations unassigned), a deleted label and customer
    await state.update(
        conn, tables=t, agent_id=t.agent_id, customer_id=ids[0], actor_id=owner, status="snoozed"
    )
    await conn.execute(
        t.query("UPDATE {customers} SET snoozed_until = now() - interval '1 minute' WHERE id = %s"),
        (ids[0],),
    )
    await conn.execute(
        "INSERT INTO conversation_snoozes VALUES (%s, %s, now() - interval '1 minute')",
        (t.agent_id, ids[0]),
    )
    assert await snooze.wake_due(conn) == 1
    await members.remove_member(conn, agent_id=t.agent_id, user_id=mia)
    await conn.execute("DELETE FROM workspace_labels WHERE id = %s", (rare,))
    await erase_customer(conn, tables=t, customer_id=ids[1])
    await _assert_exact(conn, t, owner, [vip, rare], [mia])
    cur = await conn.execute(
        "SELECT count(*) AS rows FROM conversation_counts WHERE agent_id = %s", (t.agent_id,)
    )
    before = (await cur.fetchone())["rows"]
    assert await filters.fold_counts(conn) >= before
    cur = await conn.execute(
        "SELECT count(*) AS rows, count(DISTINCT (label_id, assignee_id, status)) AS keys,"
        " count(*) FILTER (WHERE n = 0) AS zero FROM conversation_counts WHERE agent_id = %s",
        (t.agent_id,),
    )
    after = await cur.fetchone()
    assert after["rows"] == after["keys"] < before and after["zero"] == 0
    await _assert_exact(conn, t, owner, [vip, rare], [mia])
    await conn.execute(t.query("TRUNCATE {customers} CASCADE"))
    await _assert_exact(conn, t, owner, [vip], [mia])


async def _writer(
    url: str, t: AgentTables, ids: list[int], labels: list[int], people: list[Any], seed: int
) -> None:
    """Random changes one transaction at a time: statuses, assignees, labels added and removed
    (straight SQL, so nothing serialises them but the database)."""
    rnd = random.Random(seed)
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        for _ in range(40):
            cid, label = rnd.choice(ids), rnd.choice(labels)
            kind = rnd.randrange(4)
            if kind == 0:
                await conn.execute(
                    t.query("UPDATE {customers} SET conversation_status = %s WHERE id = %s"),
                    (rnd.choice(STATUSES), cid),
                )
            elif kind == 1:
                await conn.execute(
                    t.query("UPDATE {customers} SET assignee_id = %s WHERE id = %s"),
                    (rnd.choice(people), cid),
                )
            elif kind == 2:
                await conn.execute(
                    t.query(
                        "INSERT INTO {conversation_labels} (customer_id, label_id)"
                        " VALUES (%s, %s) ON CONFLICT DO NOTHING"
                    ),
                    (cid, label),
                )
            else:  # as the CRM does: the customer locked first (migration 0125)
                async with conn.transaction():
                    await conn.execute(
                        t.query("SELECT FROM {customers} WHERE id = %s FOR SHARE"), (cid,)
                    )
                    await conn.execute(
                        t.query(
                            "DELETE FROM {conversation_labels}"
                            " WHERE customer_id = %s AND label_id = %s"
                        ),
                        (cid, label),
                    )
            if rnd.random() < 0.05:
                await conn.execute("SELECT wacrm_fold_conversation_counts()")


async def test_counts_stay_exact_under_concurrent_changes(conn, db_url):
    t = await new_agent(conn)
    cur = await conn.execute("SELECT user_id FROM agents WHERE id = %s", (t.agent_id,))
    owner = (await cur.fetchone())["user_id"]
    labels = await _labels(conn, t, "a", "b", "c")
    ids = [await add_customer(conn, t, f"c{n}", phone=f"+4915100001{n:02d}") for n in range(6)]
    people = [owner, None]
    await asyncio.gather(*(_writer(db_url, t, ids, labels, people, s) for s in range(6)))
    await _assert_exact(conn, t, owner, labels, [])
    await filters.fold_counts(conn)
    await _assert_exact(conn, t, owner, labels, [])
