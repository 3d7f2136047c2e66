"""The ASGI fast path and the FastAPI route answer a webhook the same way (status, detail, rows)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
from starlette.middleware.exceptions import ExceptionMiddleware

from tests.inbound.conftest import deliver, load, rows, sign
from wacrm.inbound.endpoint import WebhookFastPath


def _route_only(app: Any) -> Any:
    """The app's router and its exception handlers, without the other middleware (so no fast path)."""
    inner = ExceptionMiddleware(app.router, handlers=app.exception_handlers)

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = app
        async with AsyncExitStack() as stack:  # what FastAPI's own middleware would provide
            scope["fastapi_middleware_astack"] = stack
            await inner(scope, receive, send)

    return asgi


async def test_fast_path_and_route_agree(client, conn, app, agent):
    assert isinstance(app.webhook_fast_path, WebhookFastPath)
    transport = httpx.ASGITransport(app=_route_only(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as route:
        for http in (client, route):
            assert (await http.post("/webhooks/whatsapp", content=b"{}")).status_code == 401
            forged = await deliver(http, load("text_old_shape"), signature=sign(b"other"))
            assert forged.status_code == 403 and "does not match" in forged.json()["detail"]
        first = load("text_old_shape")
        second = load("text_old_shape")
        second["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.ROUTE_ONLY"
        a, b = await deliver(client, first), await deliver(route, second)
        assert (a.status_code, a.json()) == (b.status_code, b.json()) == (200, {"ok": True})
    messages = await rows(conn, agent["tables"].query("SELECT wamid FROM {messages} ORDER BY id"))
    assert [m["wamid"] for m in messages] == ["wamid.TEXT_OLD_1", "wamid.ROUTE_ONLY"]
    journal = await rows(conn, "SELECT status FROM webhook_journal")
    assert [j["status"] for j in journal] == ["processed", "processed"]


async def test_other_methods_and_paths_pass_through(client, agent):
    """GET on the same path is the verification handshake, served by the FastAPI route."""
    r = await client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-token-abc",
            "hub.challenge": "42",
        },
    )
    assert r.status_code == 200 and r.text == "42"
    assert (await client.post("/webhooks/whatsapp/", content=b"{}")).status_code != 200


async def test_fast_path_applies_the_body_limit_and_counts_requests(client, settings, agent):
    big = b"{" + b" " * settings.max_body_bytes + b"}"
    r = await client.post("/webhooks/whatsapp", content=big, headers={"X-Hub-Signature-256": "x"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    async def chunks():  # no Content-Length: the streamed size is what counts
        for _ in range(4):
            yield b" " * (settings.max_body_bytes // 3)

    r = await client.post(
        "/webhooks/whatsapp", content=chunks(), headers={"X-Hub-Signature-256": "x"}
    )
    assert r.status_code == 413
    assert (await deliver(client, load("text_old_shape"))).status_code == 200
    body = (await client.get("/metrics")).text
    assert (
        'wacrm_http_requests_total{method="POST",route="/webhooks/whatsapp",status="413"}' in body
    )
    assert (
        'wacrm_http_requests_total{method="POST",route="/webhooks/whatsapp",status="200"}' in body
    )


async def test_startup_objects_are_kept_out_of_garbage_collections(db_url, settings):
    import gc

    from wacrm.app import create_app

    gc.unfreeze()
    application = create_app(settings, database_url=db_url)
    try:
        async with application.router.lifespan_context(application):
            # full collections no longer walk what the process keeps for its lifetime
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
