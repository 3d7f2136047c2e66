"""The inbox's order kept on labels and mentions (migration 0125): every label row and mention row
carries its conversation's status, assignee and last activity after every kind of change, also
changes made at the same moment by several connections; filtered pages walk those rows and give
the same conversations, in the same order, as the plain filter over the customers."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.conversations.factory import T0, add_customer, add_message, new_agent
from tests.conversations.test_counts import STATUSES, _labels
from tests.helpers import make_user
from wacrm.agents.tables import AgentTables
from wacrm.conversations import filters, service, state
from wacrm.members import service as members
from wacrm.notes import service as notes
from wacrm.ops.erase import erase_customer

_STALE_LABELS = """
SELECT l.customer_id, l.label_id FROM {conversation_labels} l JOIN {customers} c ON c.id = l.customer_id
WHERE (l.status, l.assignee_id, l.last_message_at) IS DISTINCT FROM
      (coalesce(c.conversation_status, 'open'), c.assignee_id, c.last_message_at)
"""

_MENTIONS_DIFF = """
WITH want AS (
  SELECT DISTINCT u.user_id, n.customer_id, coalesce(c.conversation_status, 'open') AS status,
         c.assignee_id, c.last_message_at
  FROM {notes} n CROSS JOIN unnest(n.mentions) u(user_id) JOIN {customers} c ON c.id = n.customer_id
), kept AS (
  SELECT user_id, customer_id, status, assignee_id, last_message_at FROM {conversation_mentions}
)
(SELECT 'missing' AS d, * FROM want EXCEPT SELECT 'missing', * FROM kept)
UNION ALL
(SELECT 'extra', * FROM kept EXCEPT SELECT 'extra', * FROM want)
"""


async def assert_keys_exact(conn: Any, t: AgentTables) -> None:
    """Label rows carry their conversation's keys; the mentions are exactly the notes'."""
    cur = await conn.execute(t.query(_STALE_LABELS))
    assert await cur.fetchall() == []
    cur = await conn.execute(t.query(_MENTIONS_DIFF))
    assert await cur.fetchall() == []


async def _owner(conn: Any, t: AgentTables) -> Any:
    cur = await conn.execute("SELECT user_id FROM agents WHERE id = %s", (t.agent_id,))
    return (await cur.fetchone())["user_id"]


async def test_keys_follow_every_change(conn):
    t = await new_agent(conn)
    owner = await _owner(conn, t)
    mia = await make_user(conn, email="mia@example.com", role="agent")
    await members.add_member(conn, agent_id=t.agent_id, email="mia@example.com")
    vip, rare = await _labels(conn, t, "vip", "rare")
    ids = [await add_customer(conn, t, f"c{n}", phone=f"+4915100000{n:02d}") for n in range(8)]
    for n, cid in enumerate(ids[:6]):
        await add_message(conn, t, cid, "hi", at=T0 + timedelta(minutes=n))
    changes: list[dict[str, Any]] = [
        {"labels": ["vip"], "status": "resolved"},
        {"labels": ["vip", "rare"], "assignee_id": mia},
        {"status": "pending", "assignee_id": owner},
        {"labels": ["rare"]},
        {"status": "snoozed", "snoozed_until": T0 + timedelta(days=3650)},
        {"labels": [], "assignee_id": None},
    ]
    for n, change in enumerate(changes * 2):
        await state.update(
            conn, tables=t, agent_id=t.agent_id, customer_id=ids[n % 8], actor_id=owner, **change
        )
    await assert_keys_exact(conn, t)
    written = []
    for n, cid in enumerate(ids[:5]):
        note = await notes.add_note(
            conn,
            tables=t,
            agent_id=t.agent_id,
            customer_id=cid,
            author_id=owner,
            body="please look",
            mentions=[mia] if n % 2 else [mia, owner],
        )
        written.append(note)
    await assert_keys_exact(conn, t)
    # new messages (a resolved or snoozed conversation reopens), an edit that drops a mention, a
    # deleted note, a removed member (unassigned), a deleted label and an erased customer
    for n, cid in enumerate(ids):
        await add_message(conn, t, cid, "again", at=T0 + timedelta(hours=1, minutes=n))
    await notes.edit_note(
        conn,
        tables=t,
        agent_id=t.agent_id,
        customer_id=ids[0],
        note_id=written[0]["id"],
        user_id=owner,
        body="no one in particular",
    )
    await notes.delete_note(
        conn,
        tables=t,
        agent_id=t.agent_id,
        customer_id=ids[1],
        note_id=written[1]["id"],
        user_id=owner,
    )
    await members.remove_member(conn, agent_id=t.agent_id, user_id=mia)
    await conn.execute("DELETE FROM workspace_labels WHERE id = %s", (rare,))
    await erase_customer(conn, tables=t, customer_id=ids[2])
    await assert_keys_exact(conn, t)
    cur = await conn.execute(
        t.query("SELECT count(*) AS n FROM {conversation_mentions} WHERE customer_id = %s"),
        (ids[2],),
    )
    assert (await cur.fetchone())["n"] == 0
    # a restore loads the tables with their triggers off: the keys are refilled from the rows
    await conn.execute(t.query("UPDATE {conversation_labels} SET last_message_at = NULL"))
    await conn.execute(t.query("DELETE FROM {conversation_mentions}"))
    await conn.execute("SELECT wacrm_recount_conversations(%s, %s)", (t.prefix, t.agent_id))
    await assert_keys_exact(conn, t)
    assert vip  # still on some conversations
    await conn.execute(t.query("TRUNCATE {customers} CASCADE"))
    await assert_keys_exact(conn, t)


async def delete_label_row(conn: Any, t: AgentTables, customer_id: int, label_id: int) -> None:
    """Take a label off a conversation as the CRM does: its customer locked first (the order of
    locks every writer keeps, migration 0125)."""
    async with conn.transaction():
        await conn.execute(
            t.query("SELECT FROM {customers} WHERE id = %s FOR SHARE"), (customer_id,)
        )
        await conn.execute(
            t.query("DELETE FROM {conversation_labels} WHERE customer_id = %s AND label_id = %s"),
            (customer_id, label_id),
        )


async def _writer(
    url: str, t: AgentTables, ids: list[int], labels: list[int], people: list[Any], seed: int
) -> None:
    """Random changes, one transaction each, of everything the kept keys copy or follow."""
    rnd = random.Random(seed)
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        for _ in range(40):
            cid, label, who = rnd.choice(ids), rnd.choice(labels), rnd.choice(people)
            kind = rnd.randrange(7)
            if kind == 0:
                await conn.execute(
                    t.query("UPDATE {customers} SET conversation_status = %s WHERE id = %s"),
                    (rnd.choice(STATUSES), cid),
                )
            elif kind == 1:
                await conn.execute(
                    t.query("UPDATE {customers} SET assignee_id = %s WHERE id = %s"), (who, cid)
                )
            elif kind == 2:
                await add_message(conn, t, cid, "hi", at=T0 + timedelta(seconds=rnd.random() * 9))
            elif kind == 3:
                await conn.execute(
                    t.query(
                        "INSERT INTO {conversation_labels} (customer_id, label_id)"
                        " VALUES (%s, %s) ON CONFLICT DO NOTHING"
                    ),
                    (cid, label),
                )
            elif kind == 4:
                await delete_label_row(conn, t, cid, label)
            elif kind == 5:
                await conn.execute(
                    t.query(
                        "INSERT INTO {notes} (customer_id, body, mentions)"
                        " VALUES (%s, 'x', %s::uuid[])"
                    ),
                    (cid, [p for p in people if p is not None and rnd.random() < 0.6]),
                )
            else:
                await conn.execute(
                    t.query(
                        "DELETE FROM {notes} WHERE id = (SELECT id FROM {notes}"
                        " WHERE customer_id = %s ORDER BY random() LIMIT 1)"
                    ),
                    (cid,),
                )


async def test_keys_stay_exact_under_concurrent_changes(conn, db_url):
    t = await new_agent(conn)
    owner = await _owner(conn, t)
    mia = await make_user(conn, email="mia@example.com", role="agent")
    labels = await _labels(conn, t, "a", "b")
    ids = [await add_customer(conn, t, f"c{n}", phone=f"+4915100001{n:02d}") for n in range(4)]
    people = [owner, mia, None]
    await asyncio.gather(*(_writer(db_url, t, ids, labels, people, s) for s in range(6)))
    await assert_keys_exact(conn, t)


async def _all_pages(conn: Any, t: AgentTables, team: filters.TeamFilter, **kw: Any) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = await service.inbox(conn, tables=t, team=team, limit=3, cursor=cursor, **kw)
        seen += [c["customer_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_walked_pages_equal_the_plain_filter(conn):
    """Each filter, page after page (with and without a last activity): the conversations the
    walk of the label's or mentions' rows gives are those a probe of every customer gives."""
    t = await new_agent(conn)
    owner = await _owner(conn, t)
    vip, rare = await _labels(conn, t, "vip", "rare")
    rnd = random.Random(5)
    for n in range(40):
        cid = await add_customer(conn, t, f"c{n}", phone=f"+4915100002{n:02d}")
        if n % 5:  # some never had a message
            await add_message(conn, t, cid, "x", at=T0 + timedelta(minutes=rnd.randrange(30)))
        await state.update(
            conn,
            tables=t,
            agent_id=t.agent_id,
            customer_id=cid,
            actor_id=owner,
            status=rnd.choice(["open", "pending", "resolved"]),
            assignee_id=rnd.choice([owner, None]),
            labels=[x for x in ("vip", "rare") if rnd.random() < 0.4],
        )
        if rnd.random() < 0.4:
            await conn.execute(
                t.query("INSERT INTO {notes} (customer_id, body, mentions) VALUES (%s, 'x', %s)"),
                (cid, [owner]),
            )
    for status in ("open", "all", "resolved"):
        for assignee in (None, "me", "none"):
            for label in (None, vip, rare):
                for mentioned in (False, True):
                    team = filters.TeamFilter(
                        me=owner,
                        status=status,
                        assignee=assignee,
                        label_id=label,
                        mentioned=mentioned,
                    )
                    plain = (
                        await _all_pages(conn, t, replace(team, label_probe=True, mentioned=False))
                        if not mentioned
                        else None
                    )
                    chosen = await filters.label_strategy(conn, tables=t, team=team)
                    walked = await _all_pages(conn, t, chosen)
                    expected = await _expected(conn, t, team)
                    assert walked == expected, (team, walked, expected)
                    if plain is not None:
                        assert plain == expected
    unread = filters.TeamFilter(me=owner, status="all", label_id=vip)
    assert await _all_pages(conn, t, unread, unread=True) == await _expected(
        conn, t, unread, "AND c.unread_count > 0"
    )


async def _expected(
    conn: Any, t: AgentTables, team: filters.TeamFilter, extra: str = ""
) -> list[int]:
    """The filter's conversations in the inbox's order, by a plain query over the customers."""
    cur = await conn.execute(
        t.query(
            "SELECT c.id FROM {customers} c WHERE (%(s)s = 'all'"
            " OR coalesce(c.conversation_status, 'open') = %(s)s)"
            " AND (%(a)s::text IS NULL OR (%(a)s = 'me' AND c.assignee_id = %(me)s)"
            "      OR (%(a)s = 'none' AND c.assignee_id IS NULL))"
            " AND (%(l)s::bigint IS NULL OR EXISTS (SELECT FROM {conversation_labels} l"
            "      WHERE l.customer_id = c.id AND l.label_id = %(l)s))"
            " AND (NOT %(m)s OR EXISTS (SELECT FROM {notes} n WHERE n.customer_id = c.id"
            "      AND %(me)s = ANY (n.mentions))) "
            + extra
            + " ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC"
        ),
        {
            "s": team.status,
            "a": team.assignee,
            "me": team.me,
            "l": team.label_id,
            "m": team.mentioned,
        },
    )
    return [r["id"] for r in await cur.fetchall()]
