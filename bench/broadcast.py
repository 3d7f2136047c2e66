"""Broadcast throughput: one broadcast of an approved template to N customers of one number
(80 messages/s at the sandbox), run by one `wacrm worker`: how fast its recipients are queued
and how fast the messages leave compared with the number's limit, with no 130429 refusal."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench import env
from bench.fixtures import make_agents
from bench.outbound import LIMIT, sandbox, sandbox_errors, start_workers
from bench.report import row

SIZES = {"full": 2000, "quick": 400, "tiny": 20}
WE_MISS_YOU = [
    {"type": "BODY", "text": "Hi {{1}}, it has been a while! Here is {{2}} off your next order."}
]


async def _prepare(url: str, agent: Any, customers: int) -> int:
    """Customers, the template in the cache, and the broadcast (due now); its id."""
    from wacrm.agents.tables import AgentTables
    from wacrm.broadcasts import service
    from wacrm.broadcasts.audience import Audience
    from wacrm.config import get_settings

    tables = AgentTables(agent.agent_id, agent.prefix)
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        await conn.execute(
            tables.query(
                """INSERT INTO {customers} (name, phone)
                   SELECT 'Customer ' || n, '+49152' || lpad(n::text, 8, '0') FROM generate_series(1, %s) n"""
            ),
            (customers,),
        )
        await conn.execute(
            """INSERT INTO whatsapp_templates (config_id, name, language, status, category, components)
               SELECT w.id, 'we_miss_you', 'en_US', 'APPROVED', 'MARKETING', %s
               FROM whatsapp_configuration w JOIN agents a ON a.user_id = w.user_id WHERE a.id = %s""",
            (json.dumps(WE_MISS_YOU), agent.agent_id),
        )
        made = await service.create(
            conn,
            tables=tables,
            name="bench",
            template_name="we_miss_you",
            language="en_US",
            params=["{first_name}", "10%"],
            audience=Audience(),
            scheduled_at=None,
            created_by=None,
            graph=get_settings().graph_api,  # not asked: the template is cached above
        )
    return int(made["id"])


def _state(url: str, agent: Any, broadcast_id: int) -> dict[str, Any]:
    from wacrm.agents.tables import AgentTables

    tables = AgentTables(agent.agent_id, agent.prefix)
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        b = conn.execute("SELECT * FROM broadcasts WHERE id = %s", (broadcast_id,)).fetchone()
        m = conn.execute(
            tables.query(
                """SELECT count(*) FILTER (WHERE wamid IS NOT NULL) AS sent,
                     count(*) FILTER (WHERE status = 'failed') AS failed,
                     min(status_at) FILTER (WHERE wamid IS NOT NULL) AS first,
                     max(status_at) FILTER (WHERE wamid IS NOT NULL) AS last
                   FROM {messages} WHERE direction = 'outbound'"""
            )
        ).fetchone()
    assert b is not None and m is not None
    return {
        **m,
        "state": b["state"],
        "started_at": b["started_at"],
        "queued_at": b["queued_at"],
        "recipients": b["recipients"],
    }


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    customers = SIZES[size_name]
    with server.database("broadcast") as url:
        env.use_crm_settings(url)
        agents = make_agents(url, 1, token=False)
        with sandbox(url, agents, LIMIT) as (sb, _):
            broadcast_id = asyncio.run(_prepare(url, agents[0], customers))
            procs = start_workers(url, sb, 1)
            try:
                deadline = time.monotonic() + 60 + 2 * customers / LIMIT
                while time.monotonic() < deadline:
                    s = _state(url, agents[0], broadcast_id)
                    if s["sent"] + s["failed"] >= customers:
                        break
                    time.sleep(0.5)
            finally:
                for proc in procs:
                    proc.stop()
            s = _state(url, agents[0], broadcast_id)
            errors, accepted = sandbox_errors(sb, agents)
    queue_s = (s["queued_at"] - s["started_at"]).total_seconds() if s["queued_at"] else None
    send_s = (s["last"] - s["first"]).total_seconds() if s["first"] and s["last"] else None
    out: dict[str, Any] = {
        "customers": customers,
        "recipients": s["recipients"],
        "sent": s["sent"],
        "failed": s["failed"],
        "accepted_by_sandbox": accepted,
        "errors": errors,
        "queue_seconds": round(queue_s, 2) if queue_s else None,
        "queued_per_second": round(customers / queue_s) if queue_s else None,
        "send_seconds": round(send_s, 2) if send_s else None,
        "sent_per_second": round((s["sent"] - 1) / send_s, 1) if send_s else None,
    }
    out["correct"] = s["sent"] == customers and not errors
    out["rows"] = [
        row(
            f"Broadcast to {customers:,} customers, one number at {LIMIT}/s: messages sent per second",
            out["sent_per_second"],
            "msg/s",
            LIMIT * 0.9,
            ">=",
            note=f"{s['sent']:,} sent, {s['failed']} failed, Meta refusals {errors or 'none'}; "
            f"recipients queued in {out['queue_seconds']} s ({out['queued_per_second']}/s)",
        ),
        row(
            "Broadcast recipients queued per second", out["queued_per_second"], "msg/s", None, None
        ),
    ]
    return out
