"""Item 13.12: one way of counting an order everywhere (units, labelled; lines named as such),
the orders text filter finds customers by name and number, and "New order" on the Orders page."""

from __future__ import annotations

import re

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password
from wacrm.orders import service as orders

HX = {"HX-Request": "true"}


async def _seller(conn, client, email):
    seller = await user_with_password(conn, email)
    csrf = await sign_in(client, email)
    return seller, csrf


async def test_an_order_counts_units_the_same_everywhere(conn, client):
    seller, _ = await _seller(conn, client, "units@example.com")
    t = seller["tables"]
    cid = await add_customer(conn, t, "Greta", phone="+4915100000021")
    mid = await add_message(conn, t, cid, "")
    await conn.execute(t.query("UPDATE {messages} SET wa_type = 'order' WHERE id = %s"), (mid,))
    order = await orders.create_order(
        conn,
        tables=t,
        customer_id=cid,
        message_id=mid,
        items=[{"name": "Shoes", "quantity": 2, "price": "10.00"}],
    )
    listing = (await client.get("/orders")).text
    assert 'title="Units ordered: the sum of the quantities">Units</th>' in listing
    assert re.search(r'<td class="num"[^>]*title="1 line"[^>]*>2</td>', listing)
    detail = (await client.get(f"/orders/{order['id']}")).text
    assert "2 units in 1 line" in detail
    panel_chat = (await client.get(f"/chat/{cid}")).text
    assert f"Order #{order['id']} · 2 units" in panel_chat
    inbox = (await client.get("/inbox/list")).text
    assert "🛒 Order of 2 units" in inbox
    headers = {"Authorization": f"Bearer {await _token(conn, seller)}"}
    api = (await client.get(f"/api/v1/orders/{order['id']}", headers=headers)).json()
    assert (api["unit_count"], api["line_count"], api["item_count"]) == (2, 1, 1)
    page = (await client.get("/api/v1/orders", headers=headers)).json()
    assert (page["items"][0]["unit_count"], page["items"][0]["line_count"]) == (2, 1)


async def _token(conn, seller):
    from wacrm.accounts.tokens import create_token

    return await create_token(conn, user_id=seller["user"]["id"], name="t")


async def test_orders_text_filter_matches_customer_names_and_numbers(conn, client):
    seller, _ = await _seller(conn, client, "filter@example.com")
    t = seller["tables"]
    ana = await add_customer(conn, t, "Ana Souza", phone="+5511987654321")
    bo = await add_customer(conn, t, "Bo", phone="+4915100000031")
    await conn.execute(
        t.query("UPDATE {customers} SET profile_name = 'Bobby WA' WHERE id = %s"), (bo,)
    )
    a = await orders.create_order(conn, tables=t, customer_id=ana, notes="gift")
    b = await orders.create_order(conn, tables=t, customer_id=bo)

    async def found(q):
        html = (await client.get("/orders", params={"q": q})).text
        return {int(x) for x in re.findall(r'data-order-id="(\d+)"', html)}

    assert await found("souza") == {a["id"]}
    assert await found("Ana S") == {a["id"]}
    assert await found("bobby") == {b["id"]}  # the WhatsApp profile name too
    assert await found("(11) 98765-4321") == {a["id"]}  # the number, as typed in Brazil
    assert await found("+49 151 0000 0031") == {b["id"]}
    assert await found("gift") == {a["id"]}  # notes still match
    assert await found("nobody") == set()


async def test_new_order_from_the_orders_page_picks_a_customer(conn, client):
    seller, csrf = await _seller(conn, client, "neworder@example.com")
    t = seller["tables"]
    dora = await add_customer(conn, t, "Dora Diaz", phone="+4915100000041")
    await add_message(conn, t, dora, "hi")
    other = await add_customer(conn, t, "Emil", phone="+4915100000042")
    await add_message(conn, t, other, "hello")
    listing = (await client.get("/orders")).text
    assert 'href="/orders/new" id="new-order">New order</a>' in listing
    picker = (await client.get("/orders/new", params={"q": "00000041"})).text
    assert "Dora Diaz" in picker and "Emil" not in picker
    assert f'name="customer_id" value="{dora}" checked' in picker
    recent = (await client.get("/orders/new")).text
    assert "Dora Diaz" in recent and "Emil" in recent
    form = {"csrf_token": csrf, "q": "00000041", "notes": "by phone"}
    lines = {"item_name": ["Boots", ""], "item_quantity": ["1", "1"], "item_price": ["49,90", ""]}
    none = await client.post("/orders/new", data={**form, **lines})
    assert none.status_code == 400 and 'id="error-customer"' in none.text
    assert 'value="Boots"' in none.text and 'value="49,90"' in none.text  # kept
    bad = await client.post(
        "/orders/new",
        data={**form, "customer_id": str(dora), **lines, "item_price": ["abc", ""]},
    )
    assert bad.status_code == 422 and 'id="error-items"' in bad.text
    assert f'value="{dora}" checked' in bad.text
    made = await client.post(
        "/orders/new", data={**form, "customer_id": str(dora), **lines}, follow_redirects=False
    )
    assert made.status_code == 303
    oid = int(made.headers["location"].split("/")[2].split("?")[0])
    page = (await client.get(made.headers["location"])).text
    assert "Order created." in page and "Dora Diaz" in page and "49.90" in page
    cur = await conn.execute(
        t.query("SELECT customer_id, notes FROM {orders} WHERE id = %s"), (oid,)
    )
    assert await cur.fetchone() == {"customer_id": dora, "notes": "by phone"}
    missing = await client.post("/orders/new", data={**form, "customer_id": "999999", **lines})
    assert missing.status_code == 404 and 'id="error-customer"' in missing.text
