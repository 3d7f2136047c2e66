"""Inbox and chat query latency at the database layer, at two history sizes (p50/p95).

    python bench/inbox.py --database-url URL [--small-agent ID --large-agent ID] [--runs 200]

Without agent ids it seeds them with bench/seed_data.py (500 customers / 10,000 messages and
50,000 customers / 1,000,000 messages). Each figure is the wall time of the CRM's own service call
(wacrm.conversations.service) over one pooled-style connection on loopback, after a warm-up.
The two agents' calls are interleaved (one each in turn), so the ratio between them is not
skewed by a change in the machine's load. EXPLAIN (ANALYZE, BUFFERS) of the first inbox page, a
chat page and a search's reads of message text is printed with --explain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed_data import seed  # noqa: E402
from wacrm.agents.tables import AgentTables  # noqa: E402
from wacrm.conversations import service  # noqa: E402


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _figures(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples), 3), "p95_ms": round(_pct(samples, 0.95), 3)}


async def _cases(conn: Any, agent_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """({messages, busiest_customer}, {case name: coroutine function}) for one agent."""
    cur = await conn.execute("SELECT agent_prefix FROM agents WHERE id = %s", (agent_id,))
    row = await cur.fetchone()
    assert row is not None, f"no agent {agent_id}"
    t = AgentTables(agent_id, row["agent_prefix"])
    cur = await conn.execute(t.query("SELECT count(*) AS n FROM {messages}"))
    n_messages = (await cur.fetchone())["n"]
    cur = await conn.execute(
        t.query(
            "SELECT customer_id, count(*) AS n FROM {messages} GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
    )
    busy = (await cur.fetchone())["customer_id"]
    ninth = await service.inbox(conn, tables=t)
    for _ in range(8):  # the 9th page: the case reads the one after it, the 10th
        if ninth["next_cursor"] is None:
            break
        ninth = await service.inbox(conn, tables=t, cursor=ninth["next_cursor"])
    older = await service.chat(conn, tables=t, customer_id=busy)
    for _ in range(5):
        if older["next_cursor"] is None:
            break
        older = await service.chat(conn, tables=t, customer_id=busy, cursor=older["next_cursor"])
    cases = {
        "inbox_first_page": lambda: service.inbox(conn, tables=t),
        "inbox_10th_page": lambda: service.inbox(conn, tables=t, cursor=ninth["next_cursor"]),
        "inbox_unread": lambda: service.inbox(conn, tables=t, unread=True),
        "inbox_open_order": lambda: service.inbox(conn, tables=t, has_open_order=True),
        "chat_newest_page": lambda: service.chat(conn, tables=t, customer_id=busy),
        "chat_older_page": lambda: service.chat(
            conn, tables=t, customer_id=busy, cursor=older["next_cursor"]
        ),
        "search_name": lambda: service.inbox(conn, tables=t, q="Hans Mü"),
        # one word no message has: the message part must not read the whole history
        "search_first_name": lambda: service.inbox(conn, tables=t, q="Hans"),
        "search_phone": lambda: service.inbox(conn, tables=t, q="+49 151 0000 12"),
        "search_text_rare": lambda: service.inbox(conn, tables=t, q="sneakers jacket invoice"),
        "search_text_common": lambda: service.inbox(conn, tables=t, q="delivery"),
    }
    return {"messages": n_messages, "busiest_customer": busy}, cases


async def measure(url: str, agent_id: int, runs: int) -> dict[str, Any]:
    """p50/p95 of every case for one agent (after a warm-up)."""
    return (await measure_agents(url, {"agent": agent_id}, runs))["agent"]


async def measure_agents(url: str, agents: dict[str, int], runs: int) -> dict[str, Any]:
    """p50/p95 of every case for each agent, the agents' calls interleaved (one call each in turn,
    each on its own connection), so a change in the machine's load hits all of them alike and the
    ratio between them stays meaningful."""
    conns = {
        k: await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)
        for k in agents
    }
    try:
        setup = {k: await _cases(conns[k], a) for k, a in agents.items()}
        results: dict[str, Any] = {k: dict(info) for k, (info, _) in setup.items()}
        for name in setup[next(iter(agents))][1]:
            samples: dict[str, list[float]] = {k: [] for k in agents}
            for i in range(min(20, runs) + runs):
                for k, (_, cases) in setup.items():
                    start = time.perf_counter()
                    await cases[name]()
                    if i >= min(20, runs):  # the first ones warm the caches and plans
                        samples[k].append((time.perf_counter() - start) * 1000)
            for k in agents:
                results[k][name] = _figures(samples[k])
        return results
    finally:
        for c in conns.values():
            await c.close()


def explain(url: str, agent_id: int) -> str:
    """EXPLAIN ANALYZE of the first inbox page, the newest chat page and the two ways a search
    reads message text (a common word, three rarer words, a word no message has)."""
    from psycopg import sql

    from wacrm.conversations.filters import team_select
    from wacrm.conversations.service import _CHAT_SQL, _INBOX_SQL, _MESSAGE_COLUMNS, NOT_REACTION

    out = []
    with psycopg.connect(url, row_factory=dict_row) as conn:
        prefix = conn.execute(
            "SELECT agent_prefix FROM agents WHERE id = %s", (agent_id,)
        ).fetchone()
        t = AgentTables(agent_id, prefix["agent_prefix"])  # type: ignore[index]
        busy = conn.execute(
            t.query("SELECT customer_id FROM {messages} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ).fetchone()["customer_id"]  # type: ignore[index]
        inbox = t.query(
            _INBOX_SQL,
            where=sql.SQL("c.last_message_at IS NOT NULL"),
            not_reaction=sql.SQL(NOT_REACTION),
            team_columns=team_select(t),
        )
        chat = t.query(
            _CHAT_SQL,
            columns=sql.SQL(_MESSAGE_COLUMNS),
            keyset=sql.SQL(""),
            not_reaction=sql.SQL(NOT_REACTION),
        )
        cases: list[tuple[str, Any, dict[str, Any]]] = [
            ("inbox first page", inbox, {"limit": 51}),
            ("chat newest page", chat, {"limit": 51, "customer_id": busy}),
        ]
        for words in ("delivery", "sneakers jacket invoice", "Hans"):
            tsquery = service.Search(words).tsquery
            cases.append(
                (
                    f"search {words!r}: walk of the newest {service.WALK_FIRST} messages",
                    t.query(service._WALK_SQL, older=sql.SQL("")),
                    {"words": tsquery, "rows": service.WALK_FIRST, "want": service.MESSAGE_HITS},
                )
            )
            cases.append(
                (
                    f"search {words!r}: the GIN (all matches)",
                    t.query(service._GIN_SQL, older=sql.SQL("")),
                    {"words": tsquery, "want": service.MESSAGE_HITS},
                )
            )
        for label, query, params in cases:
            with conn.transaction():
                conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                rows = conn.execute(
                    sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ") + query, params
                ).fetchall()
            out.append(f"-- {label}\n" + "\n".join(r["QUERY PLAN"] for r in rows))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--small-agent", type=int)
    parser.add_argument("--large-agent", type=int)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    small = args.small_agent or seed(args.database_url, customers=500, messages=10_000)["agent_id"]
    large = (
        args.large_agent
        or seed(args.database_url, customers=50_000, messages=1_000_000)["agent_id"]
    )
    results: dict[str, Any] = asyncio.run(
        measure_agents(args.database_url, {"small": small, "large": large}, args.runs)
    )
    results["ratio_p95_large_to_small"] = {
        k: round(v["p95_ms"] / results["small"][k]["p95_ms"], 2)
        for k, v in results["large"].items()
        if isinstance(v, dict)
    }
    print(json.dumps(results, indent=2))
    if args.explain:
        print(explain(args.database_url, large))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
