"""The business account's health from Meta's webhooks (issue 19 item 5).

`account_update` (restrictions, violations, bans, deletion), `phone_number_quality_update`
(quality flags, messaging limit tier) and `business_capability_update` (limits) carry no
phone_number_id: they are routed by `entry[].id`, the WABA id (the endpoint has verified the
body with the app secret of a number of that WABA). Each one is kept in `number_health_events`
and changes what the numbers page shows; a number that cannot send gets `cannot_send_reason`
(the agents' banner) and `needs_attention`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

FIELDS = frozenset({"account_update", "phone_number_quality_update", "business_capability_update"})
_BLOCKING_RESTRICTIONS = (
    "RESTRICTED_BIZ_INITIATED_MESSAGING",
    "RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
)
_PREFIX = "WhatsApp: "  # needs_attention set here (cleared here only)

_RECORD = """
WITH cfg AS (
  SELECT id FROM whatsapp_configuration
  WHERE business_account_id = %(waba)s
    AND (%(phone)s::text IS NULL OR regexp_replace(whatsapp_number, '\\D', '', 'g') = %(phone)s)
), ev AS (
  INSERT INTO number_health_events (config_id, field, event, summary, raw)
  SELECT id, %(field)s, %(event)s, %(summary)s, %(raw)s FROM cfg
)
UPDATE whatsapp_configuration w SET
  messaging_limit_tier = coalesce(%(tier)s, w.messaging_limit_tier),
  quality_event = coalesce(%(quality)s, w.quality_event),
  account_status = coalesce(%(account)s, w.account_status),
  cannot_send_reason = CASE WHEN %(block)s::text IS NOT NULL THEN %(block)s
                            WHEN %(unblock)s THEN NULL ELSE w.cannot_send_reason END,
  needs_attention = CASE WHEN %(block)s::text IS NOT NULL THEN %(prefix)s || %(block)s
                         WHEN %(unblock)s AND w.needs_attention LIKE %(prefix)s || '%%' THEN NULL
                         ELSE w.needs_attention END,
  health_at = now()
FROM cfg WHERE w.id = cfg.id
"""


def _account(value: dict[str, Any]) -> dict[str, Any]:
    event = str(value.get("event") or "").upper() or None
    block = None
    unblock = False
    parts = [event or "account update"]
    restrictions = value.get("restriction_info")
    if isinstance(restrictions, list):
        kinds = [str(r.get("restriction_type")) for r in restrictions if isinstance(r, dict)]
        parts += kinds
        blocking = [k for k in kinds if k in _BLOCKING_RESTRICTIONS]
        if blocking:
            until = next((r.get("expiration") for r in restrictions if isinstance(r, dict)), None)
            block = "messaging restricted by Meta" + (
                f" until {datetime.fromtimestamp(int(str(until)), tz=UTC):%Y-%m-%d %H:%M} UTC"
                if str(until or "").isdigit()
                else ""
            )
        elif event == "ACCOUNT_RESTRICTION":
            unblock = True
    violation = value.get("violation_info")
    if isinstance(violation, dict) and violation.get("violation_type"):
        parts.append(f"violation: {violation['violation_type']}")
    ban = value.get("ban_info")
    if isinstance(ban, dict) and ban.get("waba_ban_state"):
        state = str(ban["waba_ban_state"]).upper()
        parts.append(f"ban: {state}")
        if state == "DISABLE":
            block = "the business account is disabled by Meta"
        elif state == "REINSTATE":
            unblock = True
    if event in ("DISABLED_UPDATE", "ACCOUNT_DELETED") and block is None and not unblock:
        block = "the business account is disabled or deleted"
    return {"event": event, "account": event, "block": block, "unblock": unblock,
            "summary": "; ".join(parts)}  # fmt: skip


def _quality(value: dict[str, Any]) -> dict[str, Any]:
    event = str(value.get("event") or "").upper() or None
    tier = value.get("current_limit") or value.get("messaging_limit_tier")
    summary = f"quality {event or 'update'}" + (f", messaging limit {tier}" if tier else "")
    if value.get("old_limit"):
        summary += f" (was {value['old_limit']})"
    return {"event": event, "quality": event, "tier": tier, "summary": summary}


def _capability(value: dict[str, Any]) -> dict[str, Any]:
    limit = value.get("max_daily_conversation_per_phone") or value.get(
        "max_daily_conversations_per_business"
    )
    numbers = value.get("max_phone_numbers_per_business") or value.get("max_phone_numbers_per_waba")
    parts = []
    if limit:
        parts.append(f"{limit} business-initiated conversations a day")
    if numbers:
        parts.append(f"up to {numbers} phone numbers")
    tier = f"TIER_{limit}" if isinstance(limit, int) else None
    return {
        "event": "CAPABILITY",
        "tier": tier,
        "summary": "capability: " + (", ".join(parts) or "updated"),
    }


async def apply_webhooks(conn: AsyncConnection[Any], data: Any) -> int:
    """Record the account-health changes of one payload; how many."""
    applied = 0
    entries = data.get("entry") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict) or change.get("field") not in FIELDS:
                continue
            raw = change.get("value")
            value: dict[str, Any] = raw if isinstance(raw, dict) else {}
            field = change["field"]
            read = {"account_update": _account, "phone_number_quality_update": _quality}.get(
                field, _capability
            )(value)
            phone = value.get("display_phone_number") or value.get("phone_number")
            params = {
                "waba": str(entry.get("id") or ""),
                "phone": "".join(ch for ch in str(phone) if ch.isdigit()) if phone else None,
                "field": field,
                "raw": Jsonb(orjson.loads(orjson.dumps(value))),
                "tier": None, "quality": None, "account": None, "block": None,
                "unblock": False, "prefix": _PREFIX, **read,
            }  # fmt: skip
            await conn.execute(_RECORD, params)
            applied += 1
    return applied


async def history(conn: AsyncConnection[Any], config_ids: list[int]) -> dict[int, list[dict]]:
    """The last health events of each configuration, newest first (10 each)."""
    cur = await conn.execute(
        """SELECT config_id, field, event, summary, received_at FROM (
             SELECT e.*, row_number() OVER (PARTITION BY config_id ORDER BY received_at DESC, id DESC) AS n
             FROM number_health_events e WHERE config_id = ANY(%s)) x
           WHERE n <= 10 ORDER BY received_at DESC, id DESC""",
        (config_ids,),
    )
    out: dict[int, list[dict]] = {}
    for r in await cur.fetchall():
        out.setdefault(r["config_id"], []).append(r)
    return out


async def cannot_send(conn: AsyncConnection[Any], agent_id: int) -> str | None:
    """Why the workspace's number cannot send now (None: it can, as far as Meta told us)."""
    cur = await conn.execute(
        """SELECT w.cannot_send_reason FROM whatsapp_configuration w
           JOIN agents a ON a.user_id = w.user_id
           WHERE a.id = %s AND w.cannot_send_reason IS NOT NULL LIMIT 1""",
        (agent_id,),
    )
    row = await cur.fetchone()
    return row["cannot_send_reason"] if row else None
