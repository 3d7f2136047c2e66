"""Signed webhook delivery to the CRM (with bounded re-delivery) and the status sequence."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from wacrm.sandbox.errors import GraphError
from wacrm.sandbox.payloads import build_status_payload, dumps, sign
from wacrm.sandbox.state import Number, SandboxState, SentMessage

log = logging.getLogger(__name__)


async def post_signed(
    state: SandboxState,
    client: httpx.AsyncClient,
    number: Number,
    payload: dict[str, Any],
    *,
    kind: str,
    retry: bool = True,
    start_attempt: int = 0,
) -> int | None:
    """POST a payload signed with the number's app secret; re-deliver with back-off until a 200.

    Returns the CRM's last HTTP status (None when it could not be reached).
    """
    if not number.webhook_url:
        return None
    body = dumps(payload)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body, number.app_secret),
        "User-Agent": "facebookexternalua",
    }
    attempts = 1 + (state.config.webhook_retries if retry else 0)
    status: int | None = None
    for attempt in range(start_attempt, attempts):
        if attempt:
            await asyncio.sleep(state.config.webhook_backoff_ms * 2 ** (attempt - 1) / 1000)
        try:
            response = await client.post(
                number.webhook_url,
                content=body,
                headers=headers,
                timeout=state.config.webhook_timeout_s,
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("sandbox webhook to %s failed: %s", number.webhook_url, exc)
            status = None
        state.webhook_log.append(
            {
                "kind": kind,
                "url": number.webhook_url,
                "attempt": attempt + 1,
                "status": status,
                "at": time.time(),
            }
        )
        if status == 200:
            break
    return status


async def status_flow(
    state: SandboxState,
    client: httpx.AsyncClient,
    number: Number,
    msg: SentMessage,
    *,
    category: str,
    failure: GraphError | None = None,
) -> None:
    """sent → delivered → read (→ played for audio), or one `failed` status, with the number's delays."""
    d_sent, d_delivered, d_read = number.status_delays_ms
    conversation = None if category == "service" else msg.wamid[-16:]
    if failure is not None:
        steps = [("failed", d_sent)]
    else:
        steps = [("sent", d_sent), ("delivered", d_delivered)]
        if number.send_read:
            steps.append(("read", d_read))
            if msg.type == "audio":
                steps.append(("played", d_read + 100))
    elapsed = 0
    for status, at_ms in steps:
        await asyncio.sleep(max(0, at_ms - elapsed) / 1000)
        elapsed = max(elapsed, at_ms)
        payload = build_status_payload(
            phone_number_id=number.phone_number_id,
            display_phone_number=number.display_phone_number,
            waba_id=number.waba_id,
            wamid=msg.wamid,
            status=status,
            recipient_id=msg.wa_id,
            recipient_user_id=msg.user_id if number.bsuid else None,
            category=category,
            conversation_id=conversation,
            errors=[failure.status_error()] if failure is not None else None,
        )
        at = time.time()
        crm_status = await post_signed(state, client, number, payload, kind=f"status:{status}")
        msg.statuses.append({"status": status, "at": at, "crm_status": crm_status})
