"""Item 13.11 (server side): every form's error comes back where the page can show it next to
its field (htmx: the re-rendered form with X-Swap-Error, or an error fragment naming the field);
prices accept the decimal comma; error pages render inside the app's layout (item 13.13)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password
from wacrm.orders.money import form_price

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("12,50", "12.50"),
        ("0,5", "0.5"),
        ("1.250,50", "1250.50"),
        ("1,250.50", "1250.50"),
        (" 12.50 ", "12.50"),
        ("1 250,00", "1250.00"),
        ("1,250", "1,250"),  # ambiguous: left for parse_price to refuse with advice
        ("12", "12"),
    ],
)
def test_form_price_reads_the_decimal_comma(typed, value):
    assert form_price(typed) == value


async def _chat(conn, client, email="forms@example.com"):
    seller = await user_with_password(conn, email)
    cid = await add_customer(conn, seller["tables"], "Dora", phone="+4915100000006")
    await add_message(conn, seller["tables"], cid, "hi")
    csrf = await sign_in(client, email)
    return seller, cid, {"X-CSRF-Token": csrf, **HX}


async def test_empty_send_and_a_zip_are_answered_next_to_their_fields(conn, client):
    _, cid, headers = await _chat(conn, client)
    empty = await client.post(f"/chat/{cid}/send", data={"text": "  "}, headers=headers)
    assert empty.status_code == 400
    assert empty.headers["X-Swap-Error"] == "true"  # htmx swaps the re-rendered composer
    html = empty.text
    assert html.index('id="composer-text"') < html.index('id="composer-error"')
    assert 'aria-invalid="true" aria-describedby="composer-error"' in html
    assert "the message is empty" in html
    zipped = await client.post(
        f"/chat/{cid}/send",
        data={"text": "", "caption": "catalogue"},
        files={"file": ("catalogue.zip", b"PK\x03\x04rest-of-zip", "application/zip")},
        headers=headers,
    )
    assert zipped.status_code == 415 and zipped.headers["X-Swap-Error"] == "true"
    assert "WhatsApp cannot send catalogue.zip (application/zip)" in zipped.text
    html = zipped.text
    assert '<details class="attach" open>' in html  # the file field's error is visible
    assert html.index('id="composer-file"') < html.index('id="composer-error"')


async def test_chat_order_accepts_decimal_comma_and_keeps_typed_lines_on_error(conn, client):
    seller, cid, headers = await _chat(conn, client)
    ok = await client.post(
        f"/chat/{cid}/orders",
        headers=headers,
        data={"item_name": ["Shoes"], "item_quantity": ["2"], "item_price": ["12,50"]},
    )
    assert ok.status_code == 200, ok.text
    cur = await conn.execute(seller["tables"].query("SELECT price FROM {orders_items}"))
    assert (await cur.fetchone())["price"] == Decimal("12.50")
    bad = await client.post(
        f"/chat/{cid}/orders",
        headers=headers,
        data={"item_name": ["Hat"], "item_quantity": ["1"], "item_price": ["1,250"]},
    )
    assert bad.status_code == 422 and bad.headers["X-Swap-Error"] == "true"
    assert "ambiguous" in bad.text and 'id="order-error"' in bad.text
    assert 'value="Hat"' in bad.text and 'value="1,250"' in bad.text  # nothing typed is lost
    named = await client.post(f"/chat/{cid}/name", data={"name": " "}, headers=headers)
    assert named.status_code == 400 and 'id="name-error"' in named.text


async def test_order_page_accepts_decimal_comma_and_shows_errors_in_their_form(conn, client):
    seller, cid, headers = await _chat(conn, client)
    await client.post(
        f"/chat/{cid}/orders",
        headers=headers,
        data={"item_name": ["Shoes"], "item_quantity": ["1"], "item_price": ["10"]},
    )
    cur = await conn.execute(seller["tables"].query("SELECT id FROM {orders}"))
    oid = (await cur.fetchone())["id"]
    form = {"csrf_token": headers["X-CSRF-Token"]}
    added = await client.post(
        f"/orders/{oid}/items", data={**form, "name": "Belt", "quantity": "2", "price": "7,25"}
    )
    assert added.status_code == 303
    page = (await client.get(f"/orders/{oid}")).text
    assert "7.25" in page and "24.50" in page
    bad = await client.post(
        f"/orders/{oid}/items", data={**form, "name": "Cap", "quantity": "1", "price": "abc"}
    )
    assert bad.status_code == 422
    html = bad.text
    assert html.index('id="new-item-price"') < html.index('id="error-add"')
    assert 'value="Cap"' in html and 'value="abc"' in html
    bad_status = await client.post(f"/orders/{oid}/status", data={**form, "status": "shipped"})
    assert bad_status.status_code == 409 and 'id="error-status"' in bad_status.text


async def test_generic_errors_of_htmx_requests_name_their_field(conn, client):
    _, cid, headers = await _chat(conn, client)
    too_long = await client.post(f"/chat/{cid}/name", data={"name": "x" * 401}, headers=headers)
    assert too_long.status_code == 422
    assert "X-Swap-Error" not in too_long.headers  # app.js puts it next to the field
    assert 'data-server-error data-field="name"' in too_long.text
    assert "<html" not in too_long.text


async def test_error_pages_render_inside_the_layout(conn, client):
    await _chat(conn, client)
    for path, status in (
        ("/chat/999999", 404),
        ("/no/such/page", 404),
        ("/orders?from=yesterday", 400),
        ("/orders/abc", 404),  # ids are {order_id:int}: a word matches no page
        ("/dashboard?days=12", 422),
    ):
        r = await client.get(path)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("text/html"), path
        assert '<header class="topbar">' in r.text and 'role="alert"' in r.text, path
    api = await client.get("/api/v1/customers/999999")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")


async def test_a_server_error_page_is_inside_the_layout_and_the_api_stays_plain(app, conn):
    import httpx

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom-for-test", boom)
    app.add_api_route("/api/v1/boom-for-test", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await user_with_password(conn, "boom@example.com")
        await sign_in(client, "boom@example.com")
        page = await client.get("/boom-for-test")
        api = await client.get("/api/v1/boom-for-test")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert '<header class="topbar">' in page.text and "it has been logged" in page.text
    assert "a bug" not in page.text  # no internals shown
    assert api.status_code == 500 and "<html" not in api.text
