"""The CRM's WhatsApp client library (pywa_async) works against the sandbox unchanged."""

from __future__ import annotations

import time

import httpx
import pytest
from pywa import errors
from pywa_async import WhatsApp

from tests.sandbox_fixture import DEFAULT_NUMBER

CUSTOMER = "4915123456789"


def client(sandbox, token: str = DEFAULT_NUMBER["access_token"]) -> WhatsApp:
    wa = WhatsApp(
        phone_id=DEFAULT_NUMBER["phone_number_id"],
        token=token,
        server=None,
        waba_id=DEFAULT_NUMBER["waba_id"],
    )
    wa.api._session.base_url = sandbox.graph_url
    return wa


async def test_send_upload_download_templates(sandbox) -> None:
    sandbox.register_number()
    sandbox.open_window(CUSTOMER, at=time.time())
    wa = client(sandbox)
    sent = await wa.send_message(to=CUSTOMER, text="hi")
    assert sent.id.startswith("wamid.")
    media = await wa.upload_media(
        media=b"\x89PNG\r\n\x1a\nabc", mime_type="image/png", filename="a.png"
    )
    image = await wa.send_image(to=CUSTOMER, image=media, caption="x")
    url = await wa.get_media_url(media.id)
    async with httpx.AsyncClient() as http:
        got = await http.get(
            url.url, headers={"Authorization": f"Bearer {DEFAULT_NUMBER['access_token']}"}
        )
    assert got.content == b"\x89PNG\r\n\x1a\nabc"
    templates = await wa.get_templates()
    assert "order_update" in {t.name for t in templates}
    assert {m["wamid"] for m in (await sandbox.asent_messages())["messages"]} == {sent.id, image.id}


@pytest.mark.parametrize(
    ("setup", "exc"),
    [
        ("closed_window", errors.ReEngagementMessage),
        ("bad_token", errors.ExpiredAccessToken),
        ("throughput", errors.RateLimitHit),
    ],
)
async def test_errors_map_to_pywa_exception_classes(sandbox, setup, exc) -> None:
    sandbox.register_number(messages_per_second=1)
    if setup != "closed_window":
        sandbox.open_window(CUSTOMER, at=time.time())
    wa = client(
        sandbox, token="not-the-token" if setup == "bad_token" else DEFAULT_NUMBER["access_token"]
    )
    with pytest.raises(exc):
        await wa.send_message(to=CUSTOMER, text="1")
        await wa.send_message(to=CUSTOMER, text="2")


async def test_unknown_template(sandbox) -> None:
    sandbox.register_number()
    wa = client(sandbox)
    with pytest.raises(errors.TemplateNotExists):
        await wa.api.send_message(
            sender=DEFAULT_NUMBER["phone_number_id"],
            to=CUSTOMER,
            recipient=None,
            recipient_type="individual",
            typ="template",
            msg={"name": "nope", "language": {"code": "en_US"}},
        )
