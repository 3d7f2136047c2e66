"""WhatsApp calls (`field: calls`) as lines in the chat: "📞 Missed call", "📞 Call 3 min 12 s".

Only a call's end (`event: terminate`) makes a line (its wamid is the call id + ":call", so a
re-delivery is stored once); `connect` and call `statuses` (RINGING, ACCEPTED...) change nothing.
"""

from __future__ import annotations

from typing import Any

from wacrm.customers import service as customers
from wacrm.inbound.schemas import to_datetime, usable_id


def duration_text(seconds: int) -> str:
    """'3 min 12 s', '45 s', '1 h 2 min'."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _seconds(call: dict[str, Any]) -> int:
    try:
        return int(call.get("duration") or 0)
    except (TypeError, ValueError):
        return 0


def call_rows(raw_value: dict[str, Any], business_phone: str | None) -> list[dict[str, Any]]:
    """The chat lines of the ended calls of a `calls` change (rows for COEXIST_MESSAGES)."""
    rows = []
    calls = raw_value.get("calls")
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict) or str(call.get("event") or "").lower() != "terminate":
            continue
        call_id = str(call.get("id") or "")
        if not call_id or not usable_id(call_id + ":call"):
            continue
        by_user = str(call.get("direction") or "USER_INITIATED").upper() != "BUSINESS_INITIATED"
        who = call.get("from") if by_user else call.get("to")
        if who and business_phone and str(who) == business_phone:
            who = call.get("to") if by_user else call.get("from")
        bsuid = call.get("from_user_id") if by_user else call.get("to_user_id")
        if not who and not bsuid:
            continue
        seconds = _seconds(call)
        status = str(call.get("status") or "").lower()
        answered = seconds > 0 and status not in ("failed", "rejected", "missed")
        text = f"📞 Call {duration_text(seconds)}" if answered else "📞 Missed call"
        if not by_user and not answered:
            text = "📞 Call not answered"
        rows.append(
            {
                "person": (str(who) if who else None, bsuid, None, None, None),
                "phone": customers.e164(str(who)) if who else None,
                "bsuid": bsuid,
                "text": text,
                "ts": to_datetime(call.get("timestamp")).isoformat(),
                "media_type": "system",
                "caption": None,
                "wamid": call_id + ":call",
                "wa_type": "call",
                "context": None,
                "media_id": None,
                "mime": None,
                "sha256": None,
                "size": None,
                "filename": None,
                "media_status": None,
                "raw": call,
                "origin": "call",
                "status": "sent",
                "direction": "inbound" if by_user else "outbound",
            }
        )
    return rows
