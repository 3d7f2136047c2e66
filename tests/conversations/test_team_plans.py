"""The team filters read the inbox's indexes (EXPLAIN at 20,000 conversations), never the table."""

from __future__ import annotations

from psycopg import sql

from tests.conversations.factory import new_agent
from wacrm.conversations.filters import (
    TeamFilter,
    label_strategy,
    team_select,
    team_where,
    walk_of,
)
from wacrm.conversations.service import _INBOX_SQL, NOT_REACTION, _keyset, _order


async def _plan(conn, t, team: TeamFilter) -> str:
    params: dict = {"limit": 51}
    walk = walk_of(team, few_matches=False)
    where = [*team_where(t, team, params, walk), *_keyset(walk, "active", None, None, None, {})]
    query = t.query(
        "EXPLAIN " + _INBOX_SQL,
        walk=walk.from_clause(t),
        order=_order(walk),
        where=sql.SQL(" AND ").join(where),
        not_reaction=sql.SQL(NOT_REACTION),
        team_columns=team_select(t),
    )
    cur = await conn.execute(query, params)
    return "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())


async def test_team_filters_read_their_indexes(conn):
    t = await new_agent(conn)
    cur = await conn.execute("SELECT user_id FROM agents WHERE id = %s", (t.agent_id,))
    owner = (await cur.fetchone())["user_id"]
    await conn.execute(
        t.query(
            """INSERT INTO {customers} (name, phone, last_message_at, conversation_status, assignee_id)
               SELECT 'c' || n, '+49151' || lpad(n::text, 8, '0'), now() - n * interval '1 minute',
                      (ARRAY['open', 'pending', 'snoozed', 'resolved', 'resolved'])[1 + n %% 5],
                      CASE WHEN n %% 3 = 0 THEN %s::uuid END
               FROM generate_series(1, 20000) n"""
        ),
        (owner,),
    )
    cur = await conn.execute(
        "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, 'vip', '#ff0000'),"
        " (%s, 'rare', '#00ff00') RETURNING id",
        (t.agent_id, t.agent_id),
    )
    vip, rare = [r["id"] for r in await cur.fetchall()]
    await conn.execute(
        t.query(
            "INSERT INTO {conversation_labels} (customer_id, label_id)"
            " SELECT id, %s FROM {customers} WHERE id %% 5 = 0"
            " UNION ALL SELECT id, %s FROM {customers} WHERE id %% 500 = 0"
        ),
        (vip, rare),
    )
    for table in ("customers", "conversation_labels"):
        await conn.execute(t.query("ANALYZE {" + table + "}"))
    await conn.execute(
        t.query(
            "INSERT INTO {notes} (customer_id, body, mentions)"
            " SELECT id, 'x', ARRAY[%s]::uuid[] FROM {customers} WHERE id %% 100 = 0"
        ),
        (owner,),
    )
    for table in ("conversation_labels", "conversation_mentions"):
        await conn.execute(t.query("ANALYZE {" + table + "}"))
    # without an assignee a label's rows are the page; with one, the kept counts choose the walk
    # (the label's rows, or the assignee's conversations probing the label), and nothing is read
    # when none has the label, status and assignee
    vip_open = TeamFilter(me=owner, label_id=vip)
    assert await label_strategy(conn, tables=t, team=vip_open) == vip_open
    chosen = await label_strategy(
        conn, tables=t, team=TeamFilter(me=owner, label_id=rare, assignee="me")
    )
    assert not chosen.label_probe and not chosen.nothing
    await conn.execute(
        t.query(
            "UPDATE {customers} SET conversation_status = 'resolved'"
            " WHERE id IN (SELECT customer_id FROM {conversation_labels} WHERE label_id = %s)"
        ),
        (rare,),
    )
    chosen = await label_strategy(
        conn, tables=t, team=TeamFilter(me=owner, label_id=rare, assignee="none")
    )
    assert chosen.nothing and (await _plan(conn, t, chosen)).count("One-Time Filter: false") >= 1
    customers = f"{t.prefix}_customers"
    cases = {
        "status": (TeamFilter(me=owner, status="resolved"), "_status_activity_idx"),
        "mine": (TeamFilter(me=owner, assignee="me"), "_assignee_activity_idx"),
        "unassigned": (
            TeamFilter(me=owner, assignee="none", status="pending"),
            "_assignee_activity_idx",
        ),
    }
    for name, (team, index) in cases.items():
        plan = await _plan(conn, t, team)
        assert f"Seq Scan on {customers}" not in plan, f"{name}:\n{plan}"
        # an index gives the activity order (the filter's own, or the plain one when the
        # filter matches so many rows that walking it is cheaper): no sort of the customers
        assert f"{customers}{index}" in plan or f"{customers}_activity_idx" in plan, plan
        assert "Sort Key: c.last_message_at" not in plan, f"{name}:\n{plan}"
    plan = await _plan(conn, t, TeamFilter(me=owner, assignee="me"))  # a third of them: its index
    assert f"{customers}_assignee_activity_idx" in plan, plan
    # a label or a member's mentions: their rows walked in the inbox's order, whatever the status
    walked = {
        "vip": (TeamFilter(me=owner, label_id=vip), "conversation_labels_status_idx"),
        "vip, all": (
            TeamFilter(me=owner, status="all", label_id=vip),
            "conversation_labels_activity_idx",
        ),
        "vip, mine": (
            TeamFilter(me=owner, status="all", label_id=vip, assignee="me"),
            "conversation_labels_activity_idx",
        ),
        "mentions": (TeamFilter(me=owner, mentioned=True), "mentions_status_idx"),
        "mentions, all": (
            TeamFilter(me=owner, status="all", mentioned=True),
            "mentions_activity_idx",
        ),
    }
    for name, (team, index) in walked.items():
        plan = await _plan(conn, t, team)
        # the index with the status, or the one without when every row has that status
        scans = (f"Index Scan using {t.prefix}_{index}", index.replace("status", "activity"))
        assert scans[0] in plan or scans[1] in plan, f"{name}:\n{plan}"
        assert "Seq Scan" not in plan, f"{name}:\n{plan}"
        assert f"Bitmap Heap Scan on {t.prefix}_c" not in plan, f"{name}:\n{plan}"
        assert "Sort Key: k." not in plan, f"{name}:\n{plan}"
