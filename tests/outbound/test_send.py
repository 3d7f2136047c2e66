"""Sending through the queue to the sandbox over real HTTP: each type, the window, errors, retries."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import TypeAdapter

from tests.outbound.conftest import CUSTOMER_PHONE, add_customer, message_row, wait_status, worker
from wacrm.outbound import service
from wacrm.outbound.schemas import OutboundContent

CONTENT: TypeAdapter[Any] = TypeAdapter(OutboundContent)


def content(**data: Any) -> Any:
    return CONTENT.validate_python(data)


async def queue(
    conn: Any, shop: dict[str, Any], customer_id: int | None = None, **data: Any
) -> dict[str, Any]:
    return await service.queue_message(
        conn,
        tables=shop["tables"],
        agent_id=shop["agent"]["id"],
        customer_id=customer_id or shop["customer"]["id"],
        content=content(**data),
        sent_by=shop["user_id"],
    )


async def upload(
    conn: Any, shop: dict[str, Any], kind: str, data: bytes, mime: str, filename: str
) -> int:
    from wacrm.outbound import media

    row = await media.store(
        conn,
        agent_id=shop["agent"]["id"],
        kind=kind,
        filename=filename,
        mime_type=mime,
        data=data,
        uploaded_by=shop["user_id"],
    )
    return int(row["id"])


async def test_text_is_queued_with_its_send_then_sent(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    msg = await queue(
        conn, shop, type="text", body="Your order has shipped https://x.example", preview_url=True
    )
    assert (
        msg["status"] == "queued"
        and msg["direction"] == "outbound"
        and msg["payload"]["body"].startswith("Your")
    )
    send = await (await conn.execute("SELECT state FROM outbound_sends")).fetchone()
    assert send == {"state": "scheduled"}  # due now, not a pgqueuer job
    assert (await (await conn.execute("SELECT count(*) AS n FROM pgqueuer")).fetchone())["n"] == 0
    async with worker(db_url):
        row = await wait_status(conn, shop["tables"], msg["id"], {"sent", "delivered", "read"})
    assert row["wamid"].startswith("wamid.")
    sent = shop["sandbox"].sent_messages()["messages"]
    assert len(sent) == 1 and sent[0]["wamid"] == row["wamid"]
    assert sent[0]["request"]["text"] == {
        "body": "Your order has shipped https://x.example",
        "preview_url": True,
    }
    assert sent[0]["request"]["to"] == CUSTOMER_PHONE


async def test_every_message_type_reaches_the_sandbox(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    from wacrm.sandbox.media import png

    tables = shop["tables"]
    first = await queue(conn, shop, type="text", body="hello")
    async with worker(db_url):
        first = await wait_status(conn, tables, first["id"], {"sent", "delivered", "read"})
        image = await upload(conn, shop, "image", png(), "image/png", "photo.png")
        doc = await upload(
            conn, shop, "document", b"%PDF-1.4 invoice", "application/pdf", "invoice.pdf"
        )
        ids = [
            (await queue(conn, shop, type="image", media_id=image, caption="the photo"))["id"],
            (await queue(conn, shop, type="document", media_id=doc, caption="your invoice"))["id"],
            (
                await queue(
                    conn,
                    shop,
                    type="location",
                    latitude=52.52,
                    longitude=13.405,
                    name="Shop",
                    address="Berlin",
                )
            )["id"],
            (await queue(conn, shop, type="text", body="as you asked", reply_to=first["id"]))["id"],
            (await queue(conn, shop, type="reaction", message_id=first["id"], emoji="👍"))["id"],
            (
                await queue(
                    conn,
                    shop,
                    type="template",
                    name="order_update",
                    language="en_US",
                    body_params=["#7", "shipped"],
                )
            )["id"],
        ]
        rows = [
            await wait_status(conn, tables, i, {"sent", "delivered", "read", "failed"}, timeout=40)
            for i in ids
        ]
    assert [r["status"] in ("sent", "delivered", "read") for r in rows] == [True] * 6, [
        (r["error_code"], r["error_details"]) for r in rows
    ]
    by_wamid = {m["wamid"]: m["request"] for m in shop["sandbox"].sent_messages()["messages"]}
    requests = [by_wamid[r["wamid"]] for r in rows]
    assert (
        requests[0]["type"] == "image"
        and requests[0]["image"]["caption"] == "the photo"
        and requests[0]["image"]["id"]
    )
    assert requests[1]["document"]["filename"] == "invoice.pdf"
    assert requests[2]["location"]["latitude"] == 52.52
    assert requests[3]["context"] == {"message_id": first["wamid"]}
    assert requests[4]["reaction"] == {"message_id": first["wamid"], "emoji": "👍"}
    params = requests[5]["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params] == ["#7", "shipped"]
    assert (await message_row(conn, tables, first["id"]))["agent_reaction"] == "👍"


async def test_bsuid_only_customer_is_sent_by_recipient(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    bsuid = "US.13491208655302741918"
    customer = await add_customer(conn, shop["tables"], None, bsuid=bsuid, sandbox=shop["sandbox"])
    msg = await queue(conn, shop, customer_id=customer["id"], type="text", body="hi there")
    async with worker(db_url):
        await wait_status(conn, shop["tables"], msg["id"], {"sent", "delivered", "read"})
    request = shop["sandbox"].sent_messages()["messages"][0]["request"]
    assert request.get("recipient") == bsuid and "to" not in request


async def test_window_closed_refuses_free_form_but_not_templates(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    tables = shop["tables"]
    old = await add_customer(conn, tables, "4915100000001", written_ago=25 * 3600)
    never = await add_customer(conn, tables, "4915100000002", written_ago=None)
    before = await (
        await conn.execute(tables.query("SELECT count(*) AS n FROM {messages}"))
    ).fetchone()
    for customer in (old, never):
        with pytest.raises(service.WindowClosedError, match="send an approved template"):
            await queue(conn, shop, customer_id=customer["id"], type="text", body="hello?")
    with pytest.raises(service.WindowClosedError, match="closed at"):
        await queue(conn, shop, customer_id=old["id"], type="location", latitude=1, longitude=2)
    after = await (
        await conn.execute(tables.query("SELECT count(*) AS n FROM {messages}"))
    ).fetchone()
    assert before == after
    assert (await (await conn.execute("SELECT count(*) AS n FROM pgqueuer")).fetchone())["n"] == 0
    msg = await queue(
        conn, shop, customer_id=old["id"], type="template", name="hello_world", language="en_US"
    )
    async with worker(db_url):
        row = await wait_status(conn, tables, msg["id"], {"sent", "delivered", "read"})
    assert row["wamid"]


async def test_meta_window_error_fails_with_the_explanation(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    """Our clock says open, Meta's says closed (e.g. the customer's message never reached us)."""
    customer = await add_customer(
        conn, shop["tables"], "4915100000003", written_ago=60
    )  # sandbox window not opened
    msg = await queue(conn, shop, customer_id=customer["id"], type="text", body="late")
    async with worker(db_url):
        row = await wait_status(conn, shop["tables"], msg["id"], {"failed"})
    assert row["error_code"] == 131047 and "24 hours" in row["error_details"]  # Meta's words
    from wacrm.outbound import errors as send_errors

    assert "send a template" in send_errors.explain(row["error_code"])  # ours, from the code
    attempts = await (
        await conn.execute(
            "SELECT attempts, state FROM outbound_sends WHERE message_id = %s", (msg["id"],)
        )
    ).fetchone()
    assert attempts == {"attempts": 1, "state": "done"}  # permanent: never retried


async def test_transient_errors_are_retried(
    conn: Any, db_url: str, shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from wacrm.outbound import tasks

    monkeypatch.setattr(tasks, "backoff", lambda attempt: timedelta(milliseconds=100))
    shop["sandbox"].set_faults("error5xx", count=2)
    msg = await queue(conn, shop, type="text", body="eventually")
    async with worker(db_url):
        row = await wait_status(
            conn, shop["tables"], msg["id"], {"sent", "delivered", "read", "failed"}, timeout=30
        )
    assert row["status"] != "failed" and row["wamid"]
    sends = await (
        await conn.execute(
            "SELECT attempts FROM outbound_sends WHERE message_id = %s", (msg["id"],)
        )
    ).fetchone()
    assert sends["attempts"] == 3
    assert len(shop["sandbox"].sent_messages()["messages"]) == 1


async def test_expired_token_fails_once_and_flags_the_number(
    conn: Any, db_url: str, shop: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop["sandbox"].set_faults("token_expired")
    msg = await queue(conn, shop, type="text", body="nope")
    async with worker(db_url):
        row = await wait_status(conn, shop["tables"], msg["id"], {"failed"})
    assert row["error_code"] == 190
    # Meta's own words are stored; the explanation is said by the pages (once), from the code
    assert row["error_details"] == "The access token has expired."
    assert "Admin › WhatsApp numbers" not in row["error_details"]
    config = await (
        await conn.execute("SELECT needs_attention FROM whatsapp_configuration")
    ).fetchone()
    assert "access token" in config["needs_attention"]
    assert (await (await conn.execute("SELECT attempts FROM outbound_sends")).fetchone())[
        "attempts"
    ] == 1
    assert caplog.records, "expected some logging"
    assert all("sandbox-access-token-0001" not in r.getMessage() for r in caplog.records)
