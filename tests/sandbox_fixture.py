"""The `sandbox` fixture: a running WhatsApp sandbox on loopback, and payload helpers without HTTP.

`sandbox` (function-scoped view of one session-wide server, reset before each test) has
`.base_url`, `.graph_url`, `.register_number(...)`, `.send_as_customer(...)`, `.sent_messages(...)`,
`.set_faults(...)`, `.reset()` and a few more. `signed_inbound(...)`, `build_inbound_payload(...)`
and `sign(body, secret)` build what Meta would POST to the CRM, for tests and benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from wacrm.config import GraphApi
from wacrm.sandbox.customer import build_message
from wacrm.sandbox.payloads import bsuid_for, build_inbound_payload, dumps, sign, verify

__all__ = ["Sandbox", "build_inbound_payload", "build_message", "sign", "signed_inbound", "verify"]

DEFAULT_NUMBER = {
    "phone_number_id": "106540352242922",
    "display_phone_number": "15550001111",
    "waba_id": "102290129340398",
    "access_token": "sandbox-access-token-0001",
    "app_secret": "sandbox-app-secret-0001",
}


def signed_inbound(
    kind: str = "text",
    content: Any = None,
    *,
    phone: str | None = "4915123456789",
    user_id: str | None = None,
    shape: str = "new",
    app_secret: str = DEFAULT_NUMBER["app_secret"],
    phone_number_id: str = DEFAULT_NUMBER["phone_number_id"],
    display_phone_number: str = DEFAULT_NUMBER["display_phone_number"],
    waba_id: str = DEFAULT_NUMBER["waba_id"],
    name: str = "Customer",
    username: str | None = None,
    **message_options: Any,
) -> tuple[bytes, dict[str, str], dict[str, Any]]:
    """(raw body, headers with X-Hub-Signature-256, payload) of one inbound message, no HTTP.

    Media kinds get a made-up media id (nothing to download: use the `sandbox` fixture for that).
    """
    if shape == "new" and user_id is None and phone is not None:
        user_id = bsuid_for(phone, waba_id)
    if kind in ("image", "video", "audio", "voice", "document", "sticker"):
        message_options.setdefault(
            "media",
            {"id": str(time.time_ns())[-16:], "mime_type": "image/jpeg", "sha256": "0" * 64},
        )
    message = build_message(kind, content, business_phone=display_phone_number, **message_options)
    payload = build_inbound_payload(
        phone_number_id=phone_number_id,
        display_phone_number=display_phone_number,
        waba_id=waba_id,
        message=message,
        phone=phone,
        user_id=user_id if shape == "new" else None,
        name=name,
        username=username,
    )
    body = dumps(payload)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}
    return body, headers, payload


class Sandbox:
    """A handle on the running sandbox (state reset before each test)."""

    def __init__(self, base_url: str, app: Any) -> None:
        self.base_url = base_url
        self.graph_url = f"{base_url}/v23.0"
        self.graph = GraphApi(base_url)  # what a service's `graph` argument is for the sandbox
        self.app = app
        self.http = httpx.Client(base_url=base_url, timeout=30, trust_env=False)

    @property
    def state(self) -> Any:
        """The in-memory state (read it; change it through the API)."""
        return self.app.state.sandbox

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise AssertionError(f"sandbox answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def register_number(self, **fields: Any) -> dict[str, Any]:
        """Register a business number (defaults: DEFAULT_NUMBER); returns it with token and secret."""
        body = {**DEFAULT_NUMBER, **fields}
        result = self._ok(self.http.post("/sandbox/numbers", json=body))
        return {**result, "access_token": body["access_token"], "app_secret": body["app_secret"]}

    def send_as_customer(
        self, customer: str = "4915123456789", type: str = "text", **fields: Any
    ) -> dict[str, Any]:
        """Play a customer: the sandbox signs Meta's webhook and POSTs it to the number's webhook URL."""
        return self._ok(
            self.http.post(f"/sandbox/customers/{customer}/send", json={"type": type, **fields})
        )

    async def asend_as_customer(
        self, customer: str = "4915123456789", type: str = "text", **fields: Any
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30, trust_env=False) as client:
            response = await client.post(
                f"/sandbox/customers/{customer}/send", json={"type": type, **fields}
            )
        return self._ok(response)

    def open_window(
        self, customer: str, phone_number_id: str | None = None, at: float | None = None
    ) -> None:
        """Open the 24 h window as if the customer had written at `at` (default now) without a webhook."""
        pid = phone_number_id or DEFAULT_NUMBER["phone_number_id"]
        self._ok(
            self.http.post(
                f"/sandbox/customers/{customer}/window",
                json={"phone_number_id": pid, "last_inbound_at": at or time.time()},
            )
        )

    def sent_messages(
        self, phone_number_id: str | None = None, to: str | None = None
    ) -> dict[str, Any]:
        """{"count", "messages": [...], "errors": {"130429": n, ...}} of what the business sent."""
        params = {k: v for k, v in {"phone_number_id": phone_number_id, "to": to}.items() if v}
        return self._ok(self.http.get("/sandbox/messages", params=params))

    async def asent_messages(
        self, phone_number_id: str | None = None, to: str | None = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in {"phone_number_id": phone_number_id, "to": to}.items() if v}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30, trust_env=False) as client:
            return self._ok(await client.get("/sandbox/messages", params=params))

    def wait_for_status(self, wamid: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
        """Poll until the sandbox has sent `status` for `wamid`; returns that message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.sent_messages()["messages"]:
                if msg["wamid"] == wamid and any(s["status"] == status for s in msg["statuses"]):
                    return msg
            time.sleep(0.02)
        raise AssertionError(f"no {status} status for {wamid} within {timeout}s")

    def fail_recipient(
        self, recipient: str, code: int = 131026, details: str | None = None
    ) -> None:
        self._ok(
            self.http.post(
                f"/sandbox/recipients/{recipient}/fail", json={"code": code, "details": details}
            )
        )

    def set_faults(self, mode: str = "none", **options: Any) -> dict[str, Any]:
        """mode: none | slow | error5xx | drop | token_expired; delay_ms, probability, count."""
        return self._ok(self.http.post("/sandbox/faults", json={"mode": mode, **options}))

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get("/sandbox/webhooks"))["deliveries"]

    def reset(self, keep_numbers: bool = False) -> None:
        self._ok(self.http.post("/sandbox/reset", json={"keep_numbers": keep_numbers}))


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[Sandbox]:
    from wacrm.sandbox.app import create_sandbox_app
    from wacrm.sandbox.server import ThreadedServer

    app = create_sandbox_app()
    with ThreadedServer(app) as server:
        handle = Sandbox(server.base_url, app)
        yield handle
        handle.http.close()


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The WhatsApp sandbox on loopback, empty (no numbers, no messages, no faults)."""
    config = dict(_sandbox_server.state.config.__dict__)
    _sandbox_server.reset()
    yield _sandbox_server
    _sandbox_server.state.config.__dict__.update(config)  # tests may tune delivery timings
    _sandbox_server.reset()
