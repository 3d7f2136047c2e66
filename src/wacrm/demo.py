"""`wacrm serve --demo`: the CRM beside a local WhatsApp sandbox, a demo agent and a few chats.

A new user sees a working inbox at once: the sandbox plays Meta's Graph API and the customers
(its page, /sandbox/ on the sandbox's port, sends more messages), and the CRM talks to it through
WHATSAPP_API_BASE_URL like it would to Meta.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from wacrm.config import Settings

DEMO_AGENT_EMAIL = "agent@demo.example.com"
DEMO_CUSTOMERS: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("4915123456789", "Jonas Becker", [("text", "Hi! Do you still have the blue ceramic mug?")]),
    (
        "447700900123",
        "Amelia Clarke",
        [("text", "Hello, where is my order? 📦"), ("location", None)],
    ),
    ("5511987654321", "Rafael Souza", [("image", "Is this the right size?"), ("order", None)]),
]


def _demo_file(settings: Settings) -> Path:
    return settings.data_dir / "demo.json"


def demo_credentials(settings: Settings) -> dict[str, str]:
    """The demo number's ids and secrets, made once and kept in the data folder (mode 600)."""
    path = _demo_file(settings)
    if path.exists():
        return dict(json.loads(path.read_text()))
    creds = {
        "phone_number_id": "100000000000001",
        "display_phone_number": "15550001111",
        "waba_id": "200000000000001",
        "access_token": "demo-" + secrets.token_urlsafe(24),
        "app_secret": secrets.token_hex(16),
        "verify_token": secrets.token_urlsafe(12),
        "agent_password": secrets.token_urlsafe(12),
    }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds, fh, indent=2)
    return creds


async def provision_demo(
    conn: psycopg.AsyncConnection[Any], creds: dict[str, str], settings: Settings
) -> bool:
    """Create the demo agent user, its agent and WhatsApp number if missing; True if created now."""
    from wacrm.accounts import service as accounts
    from wacrm.agents import service as agents
    from wacrm.numbers import service as numbers

    cur = await conn.execute("SELECT id FROM users WHERE email = %s", (DEMO_AGENT_EMAIL,))
    if await cur.fetchone() is not None:
        return False
    cur = await conn.execute(
        "SELECT id FROM users WHERE role = 'admin' ORDER BY created_at LIMIT 1"
    )
    admin = await cur.fetchone()
    async with conn.transaction():
        user = await accounts.create_user(
            conn,
            email=DEMO_AGENT_EMAIL,
            name="Demo Agent",
            role="agent",
            password=creds["agent_password"],
        )
        await agents.create_agent(
            conn,
            created_by=admin["id"] if admin else user["id"],
            user_id=user["id"],
            fallback_currency=settings.default_currency,
        )
        await numbers.configure(
            conn,
            user_id=user["id"],
            webhook_url=settings.webhook_url,
            whatsapp_number="+" + creds["display_phone_number"],
            phone_number_id=creds["phone_number_id"],
            business_account_id=creds["waba_id"],
            access_token=creds["access_token"],
            app_secret=creds["app_secret"],
            verify_token=creds["verify_token"],
        )
    return True


def demo_summary(settings: Settings, sandbox_url: str) -> dict[str, str]:
    """The demo's lines of the start-up summary: the demo agent's login and the sandbox."""
    creds = demo_credentials(settings)
    return {
        "Demo agent login": f"{DEMO_AGENT_EMAIL} / {creds['agent_password']}",
        "WhatsApp sandbox": f"{sandbox_url}/sandbox/  (write as a customer)",
    }


def start_demo(url: str, settings: Settings, *, crm_url: str, sandbox_port: int = 8900) -> Any:
    """Start the sandbox in a thread, point the CRM at it, provision the demo; return the server
    (`demo_summary` gives the start-up lines)."""
    from wacrm.sandbox.app import create_sandbox_app
    from wacrm.sandbox.schemas import NumberIn
    from wacrm.sandbox.server import ThreadedServer, free_port
    from wacrm.sandbox.state import SandboxConfig

    creds = demo_credentials(settings)
    config = SandboxConfig()
    app = create_sandbox_app(config)
    number = NumberIn(
        phone_number_id=creds["phone_number_id"],
        display_phone_number=creds["display_phone_number"],
        waba_id=creds["waba_id"],
        access_token=creds["access_token"],
        app_secret=creds["app_secret"],
        webhook_url=f"{crm_url}/webhooks/whatsapp",
        enforce_window=False,  # the CRM enforces the window; the sandbox forgets it on restart
    )
    app.state.sandbox.numbers[number.phone_number_id] = number.to_number(config.status_delays_ms)
    try:
        server = ThreadedServer(app, port=sandbox_port).start()
    except (OSError, RuntimeError):
        server = ThreadedServer(app, port=free_port()).start()
    os.environ["WHATSAPP_API_BASE_URL"] = server.base_url
    from wacrm.config import get_settings

    get_settings.cache_clear()  # the app factory reads the sandbox's URL

    async def provision() -> bool:
        async with await psycopg.AsyncConnection.connect(
            url, row_factory=dict_row, autocommit=True
        ) as conn:
            return await provision_demo(conn, creds, settings)

    created = asyncio.run(provision())
    if created:
        threading.Thread(
            target=_send_first_messages, args=(server.base_url, crm_url, creds), daemon=True
        ).start()
    return server


def _send_first_messages(sandbox_url: str, crm_url: str, creds: dict[str, str]) -> None:
    """Once the CRM answers, let the demo customers write (so the first inbox is not empty)."""
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=10, trust_env=False) as http:
        while time.monotonic() < deadline:
            try:
                if http.get(f"{crm_url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        for phone, name, messages in DEMO_CUSTOMERS:
            for kind, text in messages:
                body: dict[str, Any] = {
                    "type": kind,
                    "name": name,
                    "phone_number_id": creds["phone_number_id"],
                }
                if text:
                    body["text"] = text
                try:
                    http.post(f"{sandbox_url}/sandbox/customers/{phone}/send", json=body)
                except httpx.HTTPError:
                    return
                time.sleep(0.3)
