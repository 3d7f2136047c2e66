"""Triggers that have nothing to do for an agent are not called (migration 0136)."""

from __future__ import annotations

import copy
from typing import Any

from tests.inbound.conftest import load
from wacrm.hooks import service as hooks
from wacrm.inbound.ingest import ingest
from wacrm.inbound.routing import RouteCache

DUE_WHEN_ASKED = (
    "wacrm_hook_messages",
    "wacrm_hook_customers",
    "wacrm_away_on_inbound",
    "wacrm_apply_early_changes",
)


async def _ingest_counting_calls(conn: Any, payload: dict[str, Any]) -> dict[str, int]:
    """Ingest `payload` in a transaction of its own; the PL/pgSQL functions it called, with counts."""
    async with conn.transaction():
        await conn.execute("SET LOCAL track_functions = 'pl'")
        await ingest(conn, [payload], RouteCache(ttl=0.0))
        cur = await conn.execute("SELECT funcname, calls FROM pg_stat_xact_user_functions")
        return {r["funcname"]: r["calls"] for r in await cur.fetchall()}


def _renamed(payload: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same webhook with new message ids and senders (new customers, new messages)."""
    p = copy.deepcopy(payload)
    value = p["entry"][0]["changes"][0]["value"]
    for m in value.get("messages") or []:
        m["id"] += suffix
        m["from"] = m["from"][:-2] + suffix[-2:]
    for c in value.get("contacts") or []:
        c["wa_id"] = c["wa_id"][:-2] + suffix[-2:]
    return p


async def test_triggers_with_nothing_to_do_are_not_called_and_are_when_due(conn, agent):
    payload = load("three_messages_two_customers")
    called = await _ingest_counting_calls(conn, payload)
    assert called.get("wacrm_messages_search_vector")  # PL/pgSQL calls are counted
    assert not set(DUE_WHEN_ASKED) & set(called)
    # an endpoint for new customers and messages, an away message: their triggers are called
    await hooks.create_endpoint(
        conn,
        agent_id=agent["agent"]["id"],
        url="https://hooks.example.com/in",
        events=["message.received", "customer.created"],
    )
    await conn.execute(
        "INSERT INTO away_settings (agent_id, away_enabled, away_text) VALUES (%s, true, 'away')",
        (agent["agent"]["id"],),
    )
    called = await _ingest_counting_calls(conn, _renamed(payload, "_77"))
    assert called.get("wacrm_hook_messages") == 1
    assert called.get("wacrm_hook_customers") == 1
    assert called.get("wacrm_away_on_inbound") == 1
    assert "wacrm_apply_early_changes" not in called
