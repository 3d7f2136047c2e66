"""Fixtures for inbound tests: an agent with a configured number, signed deliveries of recorded payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import WEBHOOK_URL, make_agent_user
from wacrm.numbers import service as numbers

WEBHOOKS = Path(__file__).parent.parent / "data" / "webhooks"
PNID = "106540352242922"
APP_SECRET = "test-app-secret-0123456789"


def load(name: str) -> dict[str, Any]:
    return json.loads((WEBHOOKS / f"{name}.json").read_text())


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(
    client: Any, payload: Any, *, secret: str = APP_SECRET, signature: str | None = None
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature or sign(body, secret),
    }
    return await client.post("/webhooks/whatsapp", content=body, headers=headers)


@pytest.fixture
async def agent(conn: Any) -> dict[str, Any]:
    """An agent whose user owns the number PNID (app secret APP_SECRET)."""
    a = await make_agent_user(conn, "seller@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=a["user_id"],
        whatsapp_number="+15550001111",
        phone_number_id=PNID,
        business_account_id="102290129340398",
        access_token="EAAB-test-token",
        app_secret=APP_SECRET,
        verify_token="verify-token-abc",
    )
    return a


async def rows(conn: Any, query: str, *args: Any) -> list[dict[str, Any]]:
    cur = await conn.execute(query, args or None)
    return list(await cur.fetchall())
