"""Inbox at scale: bench/seed_data.py data, bench/inbox.py at the database layer, then full HTTP times
of the JSON API and of the web app's inbox and chat pages (server-side render)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.report import row

SIZES: dict[str, dict[str, Any]] = {
    "full": {"small": (500, 10_000), "large": (50_000, 1_000_000), "runs": 200, "http_runs": 200},
    "quick": {"small": (500, 10_000), "large": (5_000, 100_000), "runs": 50, "http_runs": 50},
    "tiny": {"small": (20, 300), "large": (50, 1_000), "runs": 5, "http_runs": 5},
}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


def _token(url: str, agent_id: int) -> str:
    from wacrm.accounts.tokens import create_token

    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=dict_row
        ) as conn:
            cur = await conn.execute("SELECT user_id FROM agents WHERE id = %s", (agent_id,))
            user = await cur.fetchone()
            assert user is not None and user["user_id"] is not None
            return await create_token(conn, user_id=user["user_id"], name="bench")

    return asyncio.run(make())


WEB_PASSWORD = "bench inbox pages password 7"


def _agent_email(url: str, agent_id: int) -> str:
    """The agent's user gets a password (the seed makes it without one) to sign in to the web app."""
    from wacrm.accounts.service import set_password

    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=dict_row
        ) as conn:
            cur = await conn.execute(
                "SELECT u.id, u.email FROM agents a JOIN users u ON u.id = a.user_id WHERE a.id = %s",
                (agent_id,),
            )
            user = await cur.fetchone()
            assert user is not None
            await set_password(conn, user_id=user["id"], password=WEB_PASSWORD)
            return str(user["email"])

    return asyncio.run(make())


def _timed(client: httpx.Client, path: str, params: dict[str, Any], runs: int) -> dict[str, Any]:
    for _ in range(min(10, runs)):
        client.get(path, params=params)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        samples.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:200]}")
    return {
        "p50_ms": pct(samples, 0.5),
        "p95_ms": pct(samples, 0.95),
        "runs": runs,
        "bytes": len(r.content),
    }


def web_times(base: str, email: str, busy: int, runs: int) -> dict[str, Any]:
    """p50/p95 of the web app's inbox and chat pages (server-side: session, queries, Jinja2 render),
    signed in as the agent, over loopback with keep-alive."""
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        login = client.post("/api/v1/auth/login", json={"email": email, "password": WEB_PASSWORD})
        if login.status_code != 200:
            raise RuntimeError(f"login answered {login.status_code}: {login.text[:200]}")
        client.get(f"/chat/{busy}").raise_for_status()  # the first visit marks the chat read
        cases: dict[str, tuple[str, dict[str, Any]]] = {
            "inbox_page": ("/inbox", {}),
            "inbox_page_search": ("/inbox", {"q": "delivery"}),
            "chat_page": (f"/chat/{busy}", {}),
        }
        return {name: _timed(client, path, params, runs) for name, (path, params) in cases.items()}


def http_times(base: str, token: str, busy: int, runs: int) -> dict[str, Any]:
    """p50/p95 of the full HTTP response of the inbox and chat API pages (keep-alive, sequential)."""
    out: dict[str, Any] = {}
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False
    ) as client:
        first = client.get("/api/v1/conversations")
        first.raise_for_status()
        later_cursor = first.json()["next_cursor"]
        for _ in range(8):
            nxt = client.get("/api/v1/conversations", params={"cursor": later_cursor}).json()[
                "next_cursor"
            ]
            if nxt is None:
                break
            later_cursor = nxt
        chat = client.get(f"/api/v1/conversations/{busy}/messages")
        chat.raise_for_status()
        older = chat.json()["next_cursor"]
        cases: dict[str, tuple[str, dict[str, Any]]] = {
            "inbox_first_page": ("/api/v1/conversations", {}),
            "inbox_later_page": (
                "/api/v1/conversations",
                {"cursor": later_cursor} if later_cursor else {},
            ),
            "chat_newest_page": (f"/api/v1/conversations/{busy}/messages", {}),
            "chat_older_page": (
                f"/api/v1/conversations/{busy}/messages",
                {"cursor": older} if older else {},
            ),
            "search_name": ("/api/v1/conversations", {"q": "Hans"}),
            "search_text": ("/api/v1/conversations", {"q": "delivery"}),
        }
        for name, (path, params) in cases.items():
            out[name] = _timed(client, path, params, runs)
    return out


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    from bench import inbox
    from bench.seed_data import seed

    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size}
    large = size["large"]
    with server.seeded("inbox", customers=large[0], messages=large[1]) as (url, seeded):
        env.use_crm_settings(url)
        small = seed(url, customers=size["small"][0], messages=size["small"][1])
        seeds = {"small": small, "large": seeded}
        out["seed"] = seeds
        db = asyncio.run(
            inbox.measure_agents(url, {k: seeds[k]["agent_id"] for k in seeds}, size["runs"])
        )
        out["database"] = db
        crm, base = env.start_crm(url)
        with crm:
            out["http"] = {
                k: http_times(
                    base,
                    _token(url, seeds[k]["agent_id"]),
                    db[k]["busiest_customer"],
                    size["http_runs"],
                )
                for k in seeds
            }
            out["web_pages"] = {
                k: web_times(
                    base,
                    _agent_email(url, seeds[k]["agent_id"]),
                    db[k]["busiest_customer"],
                    size["http_runs"],
                )
                for k in seeds
            }
    out["rows"] = rows(out)
    return out


def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    large, small = out["database"]["large"], out["database"]["small"]
    n = f"{out['seed']['large']['messages']:,} messages"
    result = []
    for case in ("inbox_first_page", "inbox_10th_page", "chat_newest_page", "chat_older_page"):
        result.append(
            row(
                f"Inbox DB layer p95, {case} ({n})",
                large[case]["p95_ms"],
                "ms",
                5,
                "<=",
                note=f"p50 {large[case]['p50_ms']} ms",
            )
        )
        ratio = (
            round(large[case]["p95_ms"] / small[case]["p95_ms"], 2)
            if small[case]["p95_ms"]
            else None
        )
        result.append(
            row(
                f"Inbox DB layer p95 ratio {out['seed']['large']['messages']:,} / "
                f"{out['seed']['small']['messages']:,} messages, {case}",
                ratio,
                "",
                1.5,
                "<=",
            )
        )
    for case in (
        "search_name",
        "search_first_name",
        "search_phone",
        "search_text_rare",
        "search_text_common",
    ):
        result.append(
            row(f"Inbox DB layer p95, {case} ({n})", large[case]["p95_ms"], "ms", None, None)
        )
    for case, v in out["http"]["large"].items():
        target = 25 if not case.startswith("search") else None
        result.append(
            row(
                f"Inbox HTTP p95, {case} ({n})",
                v["p95_ms"],
                "ms",
                target,
                "<=" if target else None,
                note=f"p50 {v['p50_ms']} ms",
            )
        )
    for case, v in out["web_pages"]["large"].items():
        target = 100 if case != "inbox_page_search" else None
        result.append(
            row(
                f"Web page p95 (server-side render, loopback), {case} ({n})",
                v["p95_ms"],
                "ms",
                target,
                "<=" if target else None,
                note=f"p50 {v['p50_ms']} ms; {v['bytes']:,} bytes of HTML",
            )
        )
    return result
