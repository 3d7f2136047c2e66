"""Inbox and chat query latency at the database layer, at two history sizes (p50/p95).

    python bench/inbox.py --database-url URL [--small-agent ID --large-agent ID] [--runs 200]

Without agent ids it seeds them with bench/seed_data.py (500 customers / 10,000 messages and
50,000 customers / 1,000,000 messages). Each figure is the wall time of the CRM's own service call
(wacrm.conversations.service) over one pooled-style connection on loopback, after a warm-up.
EXPLAIN (ANALYZE, BUFFERS) of the first inbox page and of a chat page is printed with --explain.
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


async def _time(fn: Any, runs: int) -> dict[str, float]:
    for _ in range(min(20, runs)):
        await fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(samples), 3), "p95_ms": round(_pct(samples, 0.95), 3)}


async def measure(url: str, agent_id: int, runs: int) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True) as conn:
        cur = await conn.execute("SELECT agent_prefix FROM agents WHERE id = %s", (agent_id,))
        row = await cur.fetchone()
        assert row is not None, f"no agent {agent_id}"
        t = AgentTables(agent_id, row["agent_prefix"])
        cur = await conn.execute(t.query(
            "SELECT count(*) AS n FROM {messages}"))
        n_messages = (await cur.fetchone())["n"]  # type: ignore[index]
        cur = await conn.execute(t.query(
            "SELECT customer_id, count(*) AS n FROM {messages} GROUP BY 1 ORDER BY 2 DESC LIMIT 1"))
        busy = (await cur.fetchone())["customer_id"]  # type: ignore[index]
        page = await service.inbox(conn, tables=t)
        later = page
        for _ in range(9):  # the 10th page
            if later["next_cursor"] is None:
                break
            later = await service.inbox(conn, tables=t, cursor=later["next_cursor"])
        chat = await service.chat(conn, tables=t, customer_id=busy)
        older = chat
        for _ in range(5):
            if older["next_cursor"] is None:
                break
            older = await service.chat(conn, tables=t, customer_id=busy, cursor=older["next_cursor"])
        cases = {
            "inbox_first_page": lambda: service.inbox(conn, tables=t),
            "inbox_10th_page": lambda: service.inbox(conn, tables=t, cursor=later["next_cursor"]),
            "inbox_unread": lambda: service.inbox(conn, tables=t, unread=True),
            "inbox_open_order": lambda: service.inbox(conn, tables=t, has_open_order=True),
            "chat_newest_page": lambda: service.chat(conn, tables=t, customer_id=busy),
            "chat_older_page": lambda: service.chat(conn, tables=t, customer_id=busy,
                                                    cursor=older["next_cursor"]),
            "search_name": lambda: service.inbox(conn, tables=t, q="Hans Mü"),
            # one word no message has: the message part must not read the whole history
            "search_first_name": lambda: service.inbox(conn, tables=t, q="Hans"),
            "search_phone": lambda: service.inbox(conn, tables=t, q="+49 151 0000 12"),
            "search_text_rare": lambda: service.inbox(conn, tables=t, q="sneakers jacket invoice"),
            "search_text_common": lambda: service.inbox(conn, tables=t, q="delivery"),
        }
        results = {"messages": n_messages, "busiest_customer": busy}
        for name, fn in cases.items():
            results[name] = await _time(fn, runs)
        return results


def explain(url: str, agent_id: int) -> str:
    """EXPLAIN ANALYZE of the first inbox page, the newest chat page and the two ways a search
    reads message text (a common word, three rarer words, a word no message has)."""
    from psycopg import sql

    from wacrm.conversations.service import _CHAT_SQL, _INBOX_SQL, _MESSAGE_COLUMNS, NOT_REACTION

    out = []
    with psycopg.connect(url, row_factory=dict_row) as conn:
        prefix = conn.execute("SELECT agent_prefix FROM agents WHERE id = %s", (agent_id,)).fetchone()
        t = AgentTables(agent_id, prefix["agent_prefix"])  # type: ignore[index]
        busy = conn.execute(t.query("SELECT customer_id FROM {messages} GROUP BY 1 "
                                    "ORDER BY count(*) DESC LIMIT 1")).fetchone()["customer_id"]  # type: ignore[index]
        inbox = t.query(_INBOX_SQL, where=sql.SQL("c.last_message_at IS NOT NULL"),
                        not_reaction=sql.SQL(NOT_REACTION))
        chat = t.query(_CHAT_SQL, columns=sql.SQL(_MESSAGE_COLUMNS), keyset=sql.SQL(""),
                       not_reaction=sql.SQL(NOT_REACTION))
        cases: list[tuple[str, Any, dict[str, Any]]] = [
            ("inbox first page", inbox, {"limit": 51}),
            ("chat newest page", chat, {"limit": 51, "customer_id": busy}),
        ]
        for words in ("delivery", "sneakers jacket invoice", "Hans"):
            tsquery = service.Search(words).tsquery
            cases.append((f"search {words!r}: walk of the newest {service.WALK_FIRST} messages",
                          t.query(service._WALK_SQL, older=sql.SQL("")),
                          {"words": tsquery, "rows": service.WALK_FIRST,
                           "want": service.MESSAGE_HITS}))
            cases.append((f"search {words!r}: the GIN (all matches)",
                          t.query(service._GIN_SQL, older=sql.SQL("")),
                          {"words": tsquery, "want": service.MESSAGE_HITS}))
        for label, query, params in cases:
            with conn.transaction():
                conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                rows = conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ") + query,
                                    params).fetchall()
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
    large = args.large_agent or seed(args.database_url, customers=50_000, messages=1_000_000)["agent_id"]
    results: dict[str, Any] = {"small": asyncio.run(measure(args.database_url, small, args.runs)),
                               "large": asyncio.run(measure(args.database_url, large, args.runs))}
    results["ratio_p95_large_to_small"] = {
        k: round(v["p95_ms"] / results["small"][k]["p95_ms"], 2)
        for k, v in results["large"].items() if isinstance(v, dict)}
    print(json.dumps(results, indent=2))
    if args.explain:
        print(explain(args.database_url, large))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
