"""Caddy (`local_certs`, i.e. `tls internal`) and nginx, configured by deploy/, in front of
`wacrm serve`: webhooks, sign-in with a Secure cookie, and live events through TLS."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy import proxies
from tests.helpers import bearer
from tests.reliability.harness import (
    Cluster,
    assert_exactly_once,
    provision_agent,
    record,
    signed,
    text_webhooks,
    wait_for,
)

pytestmark = pytest.mark.slow


class Events(threading.Thread):
    """GET /api/v1/events through the proxy, keeping every (event, data) as it arrives."""

    def __init__(self, url: str, token: str, ca: Path) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.ca = url, token, ca
        self.events: list[tuple[str, dict[str, Any], float]] = []
        self.headers: dict[str, str] = {}
        self.stop = False

    def run(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server stopped at the end of the test
            self._read()

    def _read(self) -> None:
        with (
            httpx.Client(
                verify=proxies.trusting(self.ca), timeout=httpx.Timeout(10, read=60)
            ) as http,
            http.stream("GET", self.url + "/api/v1/events", headers=bearer(self.token)) as resp,
        ):
            self.headers = dict(resp.headers)
            fields: dict[str, str] = {}
            for line in resp.iter_lines():
                if self.stop:
                    return
                if line == "":
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        self.events.append((fields.get("event", ""), data, time.monotonic()))
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(":")
                    fields[key] = value.lstrip(" ")

    def kinds(self) -> list[str]:
        return [e for e, _, _ in self.events]


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_webhooks_sign_in_and_sse_through_tls(proxy: str, db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    agent = provision_agent(db_url)
    folder = tmp_path / proxy
    folder.mkdir()
    cluster = Cluster(tmp_path, db_url, WACRM_WEBHOOK_PROCESSING="inline")
    web = cluster.serve("web")
    start_proxy = proxies.caddy if proxy == "caddy" else proxies.nginx
    figures: dict[str, Any] = {"proxy": proxy}
    try:
        with start_proxy(folder, web.port) as (base, ca):  # type: ignore[arg-type]
            web.env["WACRM_PUBLIC_URL"] = base
            web.start()
            http = httpx.Client(base_url=base, verify=proxies.trusting(ca), timeout=15)
            assert http.get("/readyz").status_code == 200
            events = Events(base, agent["token"], ca)
            events.start()
            wait_for(lambda: "ready" in events.kinds(), 30, "the SSE ready event through TLS")

            # webhooks through TLS, and their live events without buffering
            webhooks = text_webhooks(5, f"through {proxy}")
            for payload, _ in webhooks:
                body, headers = signed(payload)
                sent_at = time.monotonic()
                assert (
                    http.post("/webhooks/whatsapp", content=body, headers=headers).status_code
                    == 200
                )
            assert_exactly_once(db_url, agent["tables"], [w for _, w in webhooks])
            wait_for(
                lambda: events.kinds().count("message") >= 5, 20, "5 message events through TLS"
            )
            last = max(t for e, _, t in events.events if e == "message")
            figures["last_event_after_s"] = round(last - sent_at, 3)

            # a body over the CRM's own limit reaches the CRM (the proxy allows 100 MB)
            big = http.post(
                "/webhooks/whatsapp",
                content=b"x" * (4 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )
            assert big.status_code == 413 and "nginx" not in big.text.lower(), big.text[:200]

            # sign-in: the session cookie is Secure behind https, and it works through TLS
            login = http.post(
                "/api/v1/auth/login",
                json={"email": "boss@example.com", "password": "a-long-enough-passphrase-1"},
            )
            assert login.status_code == 200, login.text
            cookie = login.headers["set-cookie"]
            assert "wacrm_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
            assert http.get("/account/password").status_code == 200  # signed in (else 303)
            http.cookies.clear()
            assert http.get("/account/password").status_code == 303
            events.stop = True
            http.close()
    finally:
        cluster.close()
    figures["seconds"] = round(time.monotonic() - started, 1)
    record(f"tls_{proxy}", figures)
