"""Outbound throughput against the sandbox (`wacrm sandbox`, 80 messages/s per number) with `wacrm worker`."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.fixtures import Agent, make_agents
from bench.report import row

SIZES: dict[str, dict[str, Any]] = {
    "full": {"one": 2000, "numbers": 10, "per_number": 300, "workers": 2, "profile_s": 6},
    "quick": {"one": 400, "numbers": 10, "per_number": 60, "workers": 2, "profile_s": 3},
    "tiny": {"one": 20, "numbers": 2, "per_number": 10, "workers": 1, "profile_s": 0},
}
LIMIT = 80


async def queue_messages(
    url: str,
    agents: list[Agent],
    per_agent: int,
    order: str,
    *,
    bulk: bool = False,
    one_transaction: bool = False,
) -> None:
    """`per_agent` customers with an open window per agent (and one more, for a reply), and one
    text message queued for each of the first `per_agent`.

    One message per customer, as in a broadcast: Meta's pair limit (about one message per 6 s to a
    customer, enforced by our limiter) would otherwise cap the rate at customers / 6 s.
    `order`: "interleaved" (the numbers' messages alternate, as when their agents send at the
    same time) or "sequential" (one number's broadcast queued after the other's). `bulk`: queued
    as broadcasts (`?bulk=true`). `one_transaction`: all committed at once (while workers wait).
    """
    from wacrm.agents.tables import AgentTables
    from wacrm.outbound.schemas import TextContent
    from wacrm.outbound.service import queue_message

    conn = await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)
    in_one = conn.transaction() if one_transaction else contextlib.nullcontext()
    async with conn, in_one:
        for a in agents:
            t = AgentTables(a.agent_id, a.prefix)
            await conn.execute(
                t.query(
                    "INSERT INTO {customers} (name, phone, wa_id, last_inbound_at) SELECT 'Customer ' || g,"
                    " (491510000000 + g)::text, (491510000000 + g)::text, now() FROM generate_series(1, %s) g"
                ),
                (per_agent + 1,),
            )
        pairs = [(a, n) for n in range(per_agent) for a in agents]
        if order == "sequential":
            pairs = [(a, n) for a in agents for n in range(per_agent)]
        for a, n in pairs:
            await queue_message(
                conn,
                tables=AgentTables(a.agent_id, a.prefix),
                agent_id=a.agent_id,
                customer_id=1 + n,
                content=TextContent(body=f"Your order {n} is on its way"),
                sent_by=a.user_id,
                bulk=bulk,
            )


async def _queue_reply(url: str, agent: Agent, customer_id: int) -> int:
    """An agent's single reply (not bulk); returns its message id."""
    from wacrm.agents.tables import AgentTables
    from wacrm.outbound.schemas import TextContent
    from wacrm.outbound.service import queue_message

    conn = await psycopg.AsyncConnection.connect(url, row_factory=dict_row, autocommit=True)
    async with conn:
        msg = await queue_message(
            conn,
            tables=AgentTables(agent.agent_id, agent.prefix),
            agent_id=agent.agent_id,
            customer_id=customer_id,
            content=TextContent(body="Yes, we have it in blue"),
            sent_by=agent.user_id,
        )
    return int(msg["id"])


def _reply_latency(url: str, agent: Agent, message_id: int) -> float | None:
    """Seconds from queueing the reply to Meta accepting it (None: not sent)."""
    from wacrm.agents.tables import AgentTables

    t = AgentTables(agent.agent_id, agent.prefix)
    with psycopg.connect(url) as conn:
        r = conn.execute(
            t.query(
                'SELECT extract(epoch FROM status_at - "timestamp") FROM {messages}'
                " WHERE id = %s AND wamid IS NOT NULL"
            ),
            (message_id,),
        ).fetchone()
    return round(float(r[0]), 3) if r else None


def numbers_file(agents: list[Agent], limit: int) -> Path:
    """The sandbox's numbers (one per agent, `limit` messages/s each), as a JSON file."""
    numbers = [
        {
            "phone_number_id": a.phone_number_id,
            "display_phone_number": a.display_phone_number,
            "waba_id": a.waba_id,
            "access_token": a.access_token,
            "app_secret": a.app_secret,
            "messages_per_second": limit,
            "enforce_window": False,
        }
        for a in agents
    ]
    file = Path(tempfile.mkstemp(prefix="wacrm-bench-numbers-", suffix=".json")[1])
    file.write_text(json.dumps(numbers))
    return file


@contextlib.contextmanager
def sandbox(url: str, agents: list[Agent], limit: int) -> Iterator[tuple[str, env.Process]]:
    """`wacrm sandbox` with the agents' numbers at `limit`/s, running: (its base URL, process)."""
    port = env.free_port()
    base = f"http://127.0.0.1:{port}"
    file = numbers_file(agents, limit)
    with env.Process(
        [*env.WACRM, "sandbox", "--port", str(port), "--numbers-file", str(file)],
        env.crm_env(url),
        "sandbox",
    ) as sb:
        env.wait_http(sb, f"{base}/sandbox/numbers")
        yield base, sb


def start_workers(
    url: str, sandbox_url: str, count: int, *, args: list[str] | None = None, **extra: str
) -> list[env.Process]:
    """`count` `wacrm worker` processes talking to the sandbox (`extra`: more environment)."""
    return [
        env.Process(
            [*env.WACRM, "worker", *(args or [])],
            env.crm_env(url, WHATSAPP_API_BASE_URL=sandbox_url, **extra),
            f"worker{k}",
        )
        for k in range(count)
    ]


def sandbox_errors(sandbox_url: str, agents: list[Agent]) -> tuple[dict[str, int], int]:
    """Meta's refusals (by code) and the messages accepted, over the agents' numbers."""
    errors: collections.Counter[str] = collections.Counter()
    accepted = 0
    with httpx.Client(base_url=sandbox_url, trust_env=False, timeout=30) as client:
        for a in agents:
            got = client.get(
                "/sandbox/messages", params={"phone_number_id": a.phone_number_id}
            ).json()
            errors.update(got["errors"])
            accepted += got["count"]
    return dict(errors), accepted


def _progress(url: str, agents: list[Agent]) -> dict[str, Any]:
    from wacrm.agents.tables import AgentTables

    done = pending = failed = 0
    first = last = None
    with psycopg.connect(url) as conn:
        for a in agents:
            t = AgentTables(a.agent_id, a.prefix)
            r = conn.execute(
                t.query(
                    "SELECT count(*) FILTER (WHERE status IN ('queued', 'sending')),"
                    " count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE wamid IS NOT NULL),"
                    " min(status_at) FILTER (WHERE wamid IS NOT NULL), max(status_at) FILTER (WHERE wamid IS NOT NULL)"
                    " FROM {messages} WHERE direction = 'outbound'"
                )
            ).fetchone()
            assert r is not None
            pending, failed, done = pending + r[0], failed + r[1], done + r[2]
            first = r[3] if first is None or (r[3] and r[3] < first) else first
            last = r[4] if last is None or (r[4] and r[4] > last) else last
    return {"pending": pending, "failed": failed, "sent": done, "first": first, "last": last}


def _profile(pid: int, seconds: int) -> dict[str, Any]:
    """py-spy samples of a worker: the top functions by own time and wacrm functions by total time."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not seconds or not Path(spy).exists():
        return {
            "skipped": "py-spy is not installed (pip install py-spy)"
            if seconds
            else "not at this size"
        }
    out = Path(tempfile.mkstemp(prefix="wacrm-bench-spy-", suffix=".txt")[1])
    proc = subprocess.run(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",  # noqa: S603
            "--output",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not out.stat().st_size:
        return {"skipped": f"py-spy failed: {proc.stderr.strip()[-300:]}"}
    own: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            for f in stack.split(";")
            if f
        ]
        total += n
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            if "wacrm" in f or any(x in f for x in ("outbound", "jobs", "tasks.py", "limiter")):
                ours[f] += n
    return {
        "samples": total,
        "raw": str(out),
        "top_own": [(f, round(100 * n / total, 1)) for f, n in own.most_common(12)],
        "top_wacrm_total": [(f, round(100 * n / total, 1)) for f, n in ours.most_common(12)],
    }


def _scenario(
    url: str,
    agents: list[Agent],
    per_agent: int,
    workers: int,
    profile_s: int,
    sandbox_url: str,
    order: str = "interleaved",
    bulk: bool = False,
    replies: bool = False,
) -> dict[str, Any]:
    """Queue, then run `workers` workers until every message is sent. `replies`: once a tenth
    is out, an agent's single reply on the first number (behind its own broadcast) and one on
    the last (behind the others' broadcasts), and how long each took to leave."""
    asyncio.run(queue_messages(url, agents, per_agent, order, bulk=bulk))
    total = per_agent * len(agents)
    procs = start_workers(url, sandbox_url, workers)
    profile: dict[str, Any] = {}
    reply_ids: dict[str, tuple[Agent, int]] = {}
    try:
        deadline = time.monotonic() + 60 + 2 * total / LIMIT
        profiled = False
        while time.monotonic() < deadline:
            p = _progress(url, agents)
            if p["pending"] == 0:
                break
            if replies and not reply_ids and p["sent"] > total // 10:
                for label, a in (("own_number", agents[0]), ("other_number", agents[-1])):
                    reply_ids[label] = (a, asyncio.run(_queue_reply(url, a, per_agent + 1)))
            if not profiled and p["sent"] > total // 10:
                profile = _profile(procs[0].pid, profile_s)
                profiled = True
            time.sleep(0.5)
        for proc in procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
    finally:
        for proc in procs:
            proc.stop()
    p = _progress(url, agents)
    seconds = (p["last"] - p["first"]).total_seconds() if p["first"] and p["last"] else 0.0
    errors, accepted = sandbox_errors(sandbox_url, agents)
    sent = p["sent"] - len(reply_ids)  # the replies are counted apart from the queued messages
    rate = round((p["sent"] - 1) / seconds, 1) if seconds > 0 else None
    out = {
        "queued": total,
        "order": order,
        "bulk": bulk,
        "numbers": len(agents),
        "workers": workers,
        "sent": sent,
        "failed": p["failed"],
        "pending": p["pending"],
        "accepted_by_sandbox": accepted - len(reply_ids),
        "seconds_first_to_last": round(seconds, 2),
        "per_second": rate,
        "errors": errors,
        "profile": profile,
    }
    if replies:
        out["reply_seconds"] = {
            label: _reply_latency(url, a, mid) for label, (a, mid) in reply_ids.items()
        }
    return out


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    size = SIZES[size_name]
    out: dict[str, Any] = {"size": size}
    with server.database("outbound") as url:
        env.use_crm_settings(url)
        agents = make_agents(url, 1 + 2 * size["numbers"], token=False)
        with sandbox(url, agents, LIMIT) as (sb, _):
            out["one_number"] = _scenario(url, agents[:1], size["one"], 1, 0, sb)
            ten = agents[1 : 1 + size["numbers"]]
            out["ten_numbers"] = _scenario(
                url, ten, size["per_number"], size["workers"], size["profile_s"], sb
            )
            out["ten_numbers_in_turn"] = _scenario(
                url,
                agents[1 + size["numbers"] :],
                size["per_number"],
                size["workers"],
                0,
                sb,
                order="sequential",
                bulk=True,
                replies=True,
            )
    out["rows"] = rows(out)
    return out


def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    one, many = out["one_number"], out["ten_numbers"]
    in_turn = out.get("ten_numbers_in_turn")
    return [
        row(
            f"Outbound, 1 number at {LIMIT}/s: {one['queued']} queued at once",
            one["per_second"],
            "/s",
            0.95 * LIMIT,
            ">=",
            note=f"{one['sent']} sent, {one['failed']} failed, 130429 errors: "
            f"{one['errors'].get('130429', 0)}",
        ),
        row(
            "Outbound, 1 number: 130429 (rate limit) errors",
            one["errors"].get("130429", 0),
            "",
            0,
            "==",
        ),
        row(
            f"Outbound, {many['numbers']} numbers, {many['workers']} `wacrm worker` processes: aggregate",
            many["per_second"],
            "/s",
            400,
            ">=",
            note=f"{many['sent']}/{many['queued']} sent, the numbers' messages interleaved; "
            f"errors {many['errors']}; profile in the JSON",
        ),
    ] + (_in_turn_rows(in_turn) if in_turn else [])


REPLY_TARGET_S = 2.0  # an agent's reply leaves within a couple of seconds, whatever is queued


def _in_turn_rows(in_turn: dict[str, Any]) -> list[dict[str, Any]]:
    replies = in_turn.get("reply_seconds") or {}
    return [
        row(
            f"Outbound, {in_turn['numbers']} numbers' broadcasts (bulk) queued one after another, "
            f"{in_turn['workers']} workers: aggregate",
            in_turn["per_second"],
            "/s",
            None,
            None,
            note=f"{in_turn['sent']}/{in_turn['queued']} sent; errors {in_turn['errors']}; "
            "sends scheduled at enqueue, so the numbers send at once (docs/performance.md)",
        ),
        *(
            row(
                f"Outbound, an agent's reply during those broadcasts, {where}: seconds to leave",
                replies.get(key),
                "s",
                REPLY_TARGET_S,
                "<=",
                note=note,
            )
            for key, where, note in (
                ("own_number", "on the first number", "behind its own broadcast's backlog"),
                ("other_number", "on the last number", "queued behind the other numbers'"),
            )
            if key in replies
        ),
    ]
