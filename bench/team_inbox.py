"""The team inbox's filters at scale: status (with counts), assignee, label, mentions, at the
database layer (wacrm.conversations.service.inbox with a TeamFilter) and over HTTP (the JSON API
and the web inbox), on bench/seed_data.py data given a realistic team state.

    python -m bench.run --only team [--quick]

Team state seeded: three members (the owner and two more); 60 % of conversations resolved, 25 %
open, 10 % pending, 5 % snoozed; a quarter of them unassigned, the rest spread over the members;
labels vip (20 %), follow-up (5 %), wholesale (1 %); a note mentioning the owner in 1 %.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.inbox_scale import WEB_PASSWORD, _agent_email, _timed, _token, pct
from bench.report import row

SIZES: dict[str, dict[str, Any]] = {
    "full": {"customers": 50_000, "messages": 1_000_000, "runs": 200},
    "quick": {"customers": 5_000, "messages": 100_000, "runs": 50},
    "tiny": {"customers": 200, "messages": 2_000, "runs": 5},
}

# Each conversation's status, assignee, labels and mentions are drawn independently of each other
# (a hash of the id per attribute): no filter combination is flattered or penalised by a pattern.
_STATE_SQL = """
WITH c AS (SELECT id, abs(hashtext('status' || id)) %% 20 AS s,
                  abs(hashtext('assignee' || id)) %% 4 AS a FROM {customers})
UPDATE {customers} x SET
  conversation_status = CASE WHEN c.s < 12 THEN 'resolved' WHEN c.s < 17 THEN 'open'
                             WHEN c.s < 19 THEN 'pending' ELSE 'snoozed' END,
  snoozed_until = CASE WHEN c.s = 19 THEN now() + interval '3 days' END,
  assignee_id = CASE WHEN c.a = 0 THEN NULL ELSE (%(people)s::uuid[])[c.a] END
FROM c WHERE x.id = c.id
"""


async def seed_team(url: str, agent_id: int) -> dict[str, Any]:
    """Members, statuses, assignees, labels and mention notes on a seeded agent."""
    from wacrm.agents.tables import AgentTables

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(
            "SELECT user_id, agent_prefix FROM agents WHERE id = %s", (agent_id,)
        )
        agent = await cur.fetchone()
        assert agent is not None
        t = AgentTables(agent_id, agent["agent_prefix"])
        people = [agent["user_id"]]
        for n in range(2):
            cur = await conn.execute(
                "INSERT INTO users (name, email, role) VALUES (%s, %s, 'agent') RETURNING id",
                (f"member {n}", f"member{n}-{agent_id}@example.com"),
            )
            uid = (await cur.fetchone())["id"]  # type: ignore[index]
            await conn.execute(
                "INSERT INTO agent_members (agent_id, user_id) VALUES (%s, %s)", (agent_id, uid)
            )
            people.append(uid)
        async with conn.transaction():
            await conn.execute(t.query(_STATE_SQL), {"people": people})
            for name, color, every in (
                ("vip", "#d4a017", 5),
                ("follow-up", "#1f93ff", 20),
                ("wholesale", "#0b6e4f", 100),
            ):
                cur = await conn.execute(
                    "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, %s, %s) RETURNING id",
                    (agent_id, name, color),
                )
                label = (await cur.fetchone())["id"]  # type: ignore[index]
                await conn.execute(
                    t.query(
                        "INSERT INTO {conversation_labels} (customer_id, label_id)"
                        " SELECT id, %s FROM {customers}"
                        " WHERE abs(hashtext(%s || id)) %% %s = 0"
                    ),
                    (label, name, every),
                )
            await conn.execute(
                t.query(
                    "INSERT INTO {notes} (customer_id, author_id, body, mentions)"
                    " SELECT id, %s, 'please call back', ARRAY[%s]::uuid[] FROM {customers}"
                    " WHERE abs(hashtext('mention' || id)) %% 100 = 0"
                ),
                (people[1], people[0]),
            )
        for table in ("customers", "conversation_labels", "notes"):
            await conn.execute(t.query("ANALYZE {" + table + "}"))
        # as the worker's fold (every 30 s) and autovacuum leave the kept counts after a bulk
        # change: the state above changed 50,000 conversations one row trigger at a time
        await conn.execute("SELECT wacrm_fold_conversation_counts()")
        await conn.execute("VACUUM ANALYZE conversation_counts")
    return {"owner": people[0], "tables": t}


# the previous way of reading a label (the customers' order walked, the label probed on each
# row), kept for comparison in the same run: no target
COMPARISONS = {"label_vip_probed", "label_wholesale_probed"}


async def _cases(conn: Any, t: Any, owner: Any, labels: dict[str, int]) -> dict[str, Any]:
    from wacrm.conversations import filters, service

    vip, rare = labels["vip"], labels["wholesale"]
    cur = await conn.execute(
        "SELECT user_id FROM agent_members WHERE agent_id = %s ORDER BY user_id LIMIT 1",
        (t.agent_id,),
    )
    member = str((await cur.fetchone())["user_id"])

    async def team(**given: Any) -> Any:
        """The filter as a request makes it (its label's strategy from the kept counts)."""
        return await filters.label_strategy(
            conn, tables=t, team=filters.TeamFilter(me=owner, **given)
        )

    async def page(q: str | None = None, next_page: bool = False, **given: Any) -> Any:
        chosen = await team(**given)
        cursor = None
        if next_page:
            cursor = (await service.inbox(conn, tables=t, team=chosen, q=q))["next_cursor"]
        return lambda: service.inbox(conn, tables=t, team=chosen, q=q, cursor=cursor)

    def probed(label: int, status: str) -> Any:
        team = filters.TeamFilter(me=owner, status=status, label_id=label, label_probe=True)
        return lambda: service.inbox(conn, tables=t, team=team)

    return {
        "baseline_no_team_filter": lambda: service.inbox(conn, tables=t),
        "status_open": await page(),
        "status_open_page2": await page(next_page=True),
        "status_resolved": await page(status="resolved"),
        "status_pending": await page(status="pending"),
        "assignee_me": await page(assignee="me"),
        "assignee_member": await page(assignee=member),
        "unassigned": await page(assignee="none"),
        "unassigned_pending": await page(assignee="none", status="pending"),
        "assignee_me_all_statuses": await page(status="all", assignee="me"),
        "label_vip": await page(label_id=vip),
        "label_vip_page2": await page(label_id=vip, next_page=True),
        "label_vip_all_statuses": await page(status="all", label_id=vip),
        "label_vip_mine": await page(assignee="me", label_id=vip),
        "label_vip_unassigned_pending": await page(assignee="none", status="pending", label_id=vip),
        "label_vip_probed": probed(vip, "open"),
        "label_followup_all_statuses": await page(status="all", label_id=labels["follow-up"]),
        "label_wholesale": await page(status="all", label_id=rare),
        "label_wholesale_open": await page(label_id=rare),
        "label_wholesale_probed": probed(rare, "all"),
        "label_choice": lambda: filters.label_strategy(
            conn, tables=t, team=filters.TeamFilter(me=owner, assignee="me", label_id=vip)
        ),
        "mentions": await page(status="all", mentioned=True),
        "mentions_open": await page(mentioned=True),
        "mentions_page2": await page(status="all", mentioned=True, next_page=True),
        "search_word": await page(q="price"),
        "search_word_vip": await page(q="price", label_id=vip),
        "counts": lambda: filters.status_counts(conn, tables=t, team=filters.TeamFilter(me=owner)),
        "counts_mine": lambda: filters.status_counts(
            conn, tables=t, team=filters.TeamFilter(me=owner, assignee="me")
        ),
        "counts_mine_vip": lambda: filters.status_counts(
            conn, tables=t, team=filters.TeamFilter(me=owner, assignee="me", label_id=vip)
        ),
        "counts_mentions": lambda: filters.status_counts(
            conn, tables=t, team=filters.TeamFilter(me=owner, mentioned=True)
        ),
    }


async def measure(url: str, agent_id: int, owner: Any, t: Any, runs: int) -> dict[str, Any]:
    from wacrm.conversations import filters

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        labels = {
            name: await filters.label_id(conn, agent_id=agent_id, name=name)
            for name in ("vip", "follow-up", "wholesale")
        }
        cases = await _cases(conn, t, owner, labels)
        out: dict[str, Any] = {}
        for name, call in cases.items():
            samples = []
            for i in range(min(20, runs) + runs):
                start = time.perf_counter()
                await call()
                if i >= min(20, runs):
                    samples.append((time.perf_counter() - start) * 1000)
            out[name] = {
                "p50_ms": round(statistics.median(samples), 3),
                "p95_ms": pct(samples, 0.95),
            }
        return out


def http(base: str, token: str, email: str, runs: int) -> dict[str, Any]:
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "api_status_open": ("/api/v1/conversations", {}),
        "api_assignee_me": ("/api/v1/conversations", {"assignee": "me"}),
        "api_unassigned_pending": (
            "/api/v1/conversations",
            {"assignee": "none", "status": "pending"},
        ),
        "api_label": ("/api/v1/conversations", {"label": "vip"}),
        "api_label_mine": ("/api/v1/conversations", {"label": "vip", "assignee": "me"}),
        "api_label_rare_all": ("/api/v1/conversations", {"label": "wholesale", "status": "all"}),
        "api_mentions": ("/api/v1/conversations", {"mentions": "true", "status": "all"}),
        "api_search_label": ("/api/v1/conversations", {"q": "price", "label": "vip"}),
        "api_counts": ("/api/v1/conversations/counts", {}),
    }
    out: dict[str, Any] = {}
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False
    ) as client:
        for name, (path, params) in cases.items():
            out[name] = _timed(client, path, params, runs)
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        login = client.post("/api/v1/auth/login", json={"email": email, "password": WEB_PASSWORD})
        login.raise_for_status()
        out["web_inbox_mine_vip"] = _timed(
            client, "/inbox", {"assignee": "me", "label": "vip"}, runs
        )
        out["web_inbox_open"] = _timed(client, "/inbox", {}, runs)
        out["web_inbox_vip"] = _timed(client, "/inbox", {"label": "vip"}, runs)
        out["web_inbox_mentions"] = _timed(client, "/inbox", {"mentions": "true"}, runs)
    return out


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size}
    seeding = server.seeded("team", customers=size["customers"], messages=size["messages"])
    with seeding as (url, seeded):
        env.use_crm_settings(url)
        out["seed"] = seeded
        team = asyncio.run(seed_team(url, seeded["agent_id"]))
        out["database"] = asyncio.run(
            measure(url, seeded["agent_id"], team["owner"], team["tables"], size["runs"])
        )
        crm, base = env.start_crm(url)
        with crm:
            out["http"] = http(
                base,
                _token(url, seeded["agent_id"]),
                _agent_email(url, seeded["agent_id"]),
                size["runs"],
            )
    n = f"{seeded['messages']:,} messages / {seeded['customers']:,} customers"
    rows = [
        row(
            f"Team inbox DB p95, {case} ({n})",
            f["p95_ms"],
            "ms",
            None if case in COMPARISONS else 5,
            None if case in COMPARISONS else "<=",
            note=f"p50 {f['p50_ms']} ms"
            + (", not a path the inbox takes" if case in COMPARISONS else ""),
        )
        for case, f in out["database"].items()
    ]
    rows += [
        row(
            f"Team inbox HTTP p95, {case} ({n})",
            f["p95_ms"],
            "ms",
            25,
            "<=",
            note=f"p50 {f['p50_ms']} ms",
        )
        for case, f in out["http"].items()
    ]
    out["rows"] = rows
    return out
