"""What the agent sent, shown as sent: files as thumbnails and links (served from the kept upload),
templates with their real text; the template form names parameters and refuses a missing one."""

from __future__ import annotations

from typing import Any

from tests.helpers import bearer
from tests.web.conftest import PASSWORD, sign_in
from wacrm.outbound import template_text
from wacrm.sandbox.media import png

CONFIRMATION = "order_confirmation|en_US"


def test_parameters_are_named_from_the_template_text() -> None:
    text = "Hi {{1}}, we received your order {{2}} for a total of {{3}}. We will let you know."
    assert template_text.param_labels(text) == [
        "Hi ___, we received",
        "received your order ___ for a total",
        "a total of ___. We will",
    ]
    assert template_text.fill(text, ["Ana", "#7", "R$ 10,00"]).startswith(
        "Hi Ana, we received your order #7 for a total of R$ 10,00."
    )
    assert template_text.param_count("no parameters") == 0


async def _signed_in(client: Any, conn: Any, shop: dict[str, Any]) -> str:
    from wacrm.accounts.service import set_password

    await set_password(conn, user_id=shop["user_id"], password=PASSWORD)
    return await sign_in(client, "seller@example.com")


async def _close_window(conn: Any, shop: dict[str, Any]) -> int:
    cid = shop["customer"]["id"]
    await conn.execute(
        shop["tables"].query(
            "UPDATE {customers} SET last_inbound_at = now() - interval '30 hours' WHERE id = %s"
        ),
        (cid,),
    )
    return cid


async def test_template_form_names_parameters_and_refuses_a_missing_one(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    csrf = await _signed_in(client, conn, shop)
    cid = await _close_window(conn, shop)
    page = await client.get(f"/chat/{cid}")
    assert "Parameter 2: received your order ___ for a total" in page.text
    assert f'name="tp:{CONFIRMATION}:3"' in page.text
    missing = await client.post(
        f"/chat/{cid}/send",
        data={
            "csrf_token": csrf,
            "template": CONFIRMATION,
            f"tp:{CONFIRMATION}:1": "Ana",
            f"tp:{CONFIRMATION}:2": "",
            f"tp:{CONFIRMATION}:3": "$42.00",
        },
    )
    assert missing.status_code == 422
    assert "parameter 2" in missing.text and "received your order ___" in missing.text
    assert 'value="Ana"' in missing.text  # what was typed stays
    rows = await conn.execute(shop["tables"].query("SELECT count(*) AS n FROM {messages}"))
    assert (await rows.fetchone())["n"] == 0
    sent = await client.post(
        f"/chat/{cid}/send",
        data={
            "csrf_token": csrf,
            "template": CONFIRMATION,
            f"tp:{CONFIRMATION}:1": "Ana",
            f"tp:{CONFIRMATION}:2": "#1042",
            f"tp:{CONFIRMATION}:3": "$42.00",
        },
    )
    assert sent.status_code == 200, sent.text
    row = await (
        await conn.execute(shop["tables"].query("SELECT message, wa_type FROM {messages}"))
    ).fetchone()
    assert row["wa_type"] == "template"
    assert row["message"] == (
        "Hi Ana, we received your order #1042 for a total of $42.00. "
        "We will let you know when it ships."
    )
    chat = await client.get(f"/chat/{cid}")
    assert "we received your order #1042" in chat.text and "[template" not in chat.text


async def test_api_refuses_a_template_send_with_a_missing_parameter(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    auth, cid = bearer(shop["token"]), shop["customer"]["id"]
    await client.get("/api/v1/templates", headers=auth)  # synced
    r = await client.post(
        f"/api/v1/customers/{cid}/messages",
        json={"type": "template", "name": "order_confirmation", "body_params": ["Ana"]},
        headers=auth,
    )
    assert r.status_code == 422 and "parameter 2" in r.text


async def test_a_sent_photo_shows_as_a_thumbnail_served_from_the_upload(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    csrf = await _signed_in(client, conn, shop)
    cid = shop["customer"]["id"]
    sent = await client.post(
        f"/chat/{cid}/send",
        data={"csrf_token": csrf, "caption": ""},
        files={"file": ("shoes.png", png(), "image/png")},
    )
    assert sent.status_code == 200, sent.text
    row = await (
        await conn.execute(shop["tables"].query("SELECT id FROM {messages} ORDER BY id DESC"))
    ).fetchone()
    chat = await client.get(f"/chat/{cid}")
    src = f"/api/v1/media/{row['id']}?agent_id={shop['agent']['id']}"
    assert f'<img class="media" src="{src}"' in chat.text
    served = await client.get(src)
    assert served.status_code == 200 and served.content == png()
    assert served.headers["content-type"] == "image/png"
    doc = await client.post(
        f"/chat/{cid}/send",
        data={"csrf_token": csrf, "caption": "the invoice"},
        files={"file": ("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
    )
    assert doc.status_code == 200, doc.text
    doc_id = (
        await (
            await conn.execute(shop["tables"].query("SELECT id FROM {messages} ORDER BY id DESC"))
        ).fetchone()
    )["id"]
    chat = await client.get(f"/chat/{cid}")
    assert f'href="/api/v1/media/{doc_id}?agent_id={shop["agent"]["id"]}"' in chat.text
    assert ">invoice.pdf</a>" in chat.text
