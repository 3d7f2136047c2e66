"""Server-side tests of the orders pages: list, filters, totals, pages, items, status, history, CSV."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.conversations.factory import add_customer
from tests.web.conftest import sign_in, user_with_password
from wacrm.orders import service as orders


async def _order(conn, tables, customer_id, items, **kw):
    return await orders.create_order(
        conn, tables=tables, customer_id=customer_id, items=items, **kw
    )


async def test_list_filters_totals_and_more_pages(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    t = ann["tables"]
    cid = await add_customer(conn, t, "Greta", phone="+4915100000001")
    made = [
        await _order(conn, t, cid, [{"name": f"Shoe {n}", "quantity": 1, "price": "10.00"}])
        for n in range(55)
    ]
    await _order(conn, t, cid, [{"name": "Red hat", "quantity": 2, "price": "7.50"}], notes="gift")
    await orders.change_status(
        conn, tables=t, order_id=made[0]["id"], status="confirmed", actor_id=None
    )
    await sign_in(client, "ann@example.com")
    page = await client.get("/orders")
    assert page.status_code == 200
    rows = re.findall(r'data-order-id="(\d+)"', page.text)
    assert len(rows) == 50
    assert "<strong>55</strong> · $555.00" in page.text  # pending: 54×10 + 2×7.50 (Babel, en)
    assert "<strong>1</strong> · $10.00" in page.text  # confirmed
    more = re.search(r'hx-get="(/orders/list\?[^"]+)"', page.text).group(1).replace("&amp;", "&")
    rest = await client.get(more)
    assert rest.status_code == 200
    ids = re.findall(r'data-order-id="(\d+)"', rest.text)
    assert len(ids) == 6 and not set(ids) & set(rows) and "orders-more" not in rest.text
    hat = await client.get("/orders", params={"q": "red HAT"})
    assert re.findall(r'data-order-id="(\d+)"', hat.text) == [str(made[-1]["id"] + 1)]
    confirmed = await client.get("/orders", params={"status": "confirmed", "from": "", "to": ""})
    assert re.findall(r'data-order-id="(\d+)"', confirmed.text) == [str(made[0]["id"])]
    future = await client.get("/orders", params={"from": "2099-01-01"})
    assert "No order matches" in future.text
    assert 'href="/api/v1/orders/export.csv?agent_id=' in page.text


async def test_bad_filters_are_refused(client, conn):
    await user_with_password(conn, "ann@example.com")
    await sign_in(client, "ann@example.com")
    assert (await client.get("/orders", params={"status": "lost"})).status_code == 400
    assert (await client.get("/orders", params={"from": "31.01.2026"})).status_code == 400
    reversed_ = await client.get("/orders", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert reversed_.status_code == 400
    assert (await client.get("/orders/list", params={"cursor": "garbage"})).status_code == 400


async def test_items_editing_keeps_the_total_and_refuses_bad_input(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    t = ann["tables"]
    cid = await add_customer(conn, t, "Greta", phone="+4915100000001")
    order = await _order(conn, t, cid, [{"name": "Shoe", "quantity": 2, "price": "10.00"}])
    oid = order["id"]
    csrf = await sign_in(client, "ann@example.com")
    added = await client.post(
        f"/orders/{oid}/items",
        data={"csrf_token": csrf, "name": "Sock", "quantity": "3", "price": "2.50"},
    )
    assert added.status_code == 303 and added.headers["location"] == f"/orders/{oid}?done=added"
    page = await client.get(added.headers["location"])
    assert "27.50" in page.text and "Item added." in page.text
    item = (await orders.get_order(conn, tables=t, order_id=oid))["items"][0]
    await client.post(
        f"/orders/{oid}/items/{item['id']}",
        data={"csrf_token": csrf, "name": "Boot", "quantity": "1", "price": "40"},
    )
    now = await orders.get_order(conn, tables=t, order_id=oid)
    assert now["total_amount"] == Decimal("47.50")
    assert [i["name"] for i in now["items"]] == ["Boot", "Sock"]
    for data in (
        {"name": "", "quantity": "1", "price": "1"},
        {"name": "X", "quantity": "-1", "price": "1"},
        {"name": "X", "quantity": "1", "price": "abc"},
    ):
        bad = await client.post(f"/orders/{oid}/items", data={"csrf_token": csrf, **data})
        assert (
            400 <= bad.status_code < 500
            and 'class="error form-error" role="alert" id="error-add"' in bad.text
        )
    no_csrf = await client.post(
        f"/orders/{oid}/items", data={"name": "X", "quantity": "1", "price": "1"}
    )
    assert no_csrf.status_code == 403
    await client.post(f"/orders/{oid}/items/{item['id']}/remove", data={"csrf_token": csrf})
    final = await orders.get_order(conn, tables=t, order_id=oid)
    assert final["total_amount"] == Decimal("7.50") and len(final["items"]) == 1
    missing = await client.post(f"/orders/{oid}/items/999999/remove", data={"csrf_token": csrf})
    assert missing.status_code == 404


async def test_only_allowed_transitions_are_offered_and_history_names_the_user(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    t = ann["tables"]
    cid = await add_customer(conn, t, "Greta", phone="+4915100000001")
    oid = (await _order(conn, t, cid, [{"name": "Shoe", "quantity": 1, "price": "10"}]))["id"]
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get(f"/orders/{oid}")
    assert re.findall(r'data-status="(\w+)"', page.text) == ["confirmed", "cancelled"]
    skip = await client.post(
        f"/orders/{oid}/status", data={"csrf_token": csrf, "status": "shipped"}
    )
    assert skip.status_code == 409 and "cannot go from pending to shipped" in skip.text
    ok = await client.post(
        f"/orders/{oid}/status", data={"csrf_token": csrf, "status": "confirmed", "note": "paid"}
    )
    assert ok.status_code == 303
    page = await client.get(f"/orders/{oid}")
    assert re.findall(r'data-status="(\w+)"', page.text) == ["processing", "cancelled"]
    history = page.text[page.text.index('id="order-history"') :]
    assert (
        "pending → <strong>confirmed</strong>" in history
        and "by Ann" in history
        and "paid" in history
    )
    for s in ("processing", "shipped", "delivered"):
        await orders.change_status(conn, tables=t, order_id=oid, status=s, actor_id=None)
    final = await client.get(f"/orders/{oid}")
    assert 'data-status="' not in final.text and "cannot change any more" in final.text
    assert f'action="/orders/{oid}/items"' not in final.text  # a delivered order's items are fixed


async def test_another_agents_order_is_not_found(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    bea = await user_with_password(conn, "bea@example.com")
    cid = await add_customer(conn, bea["tables"], "Bea's", phone="+4915100000002")
    oid = (await _order(conn, bea["tables"], cid, [{"name": "X", "quantity": 1, "price": "1"}]))[
        "id"
    ]
    assert ann["agent"]["id"] != bea["agent"]["id"]
    csrf = await sign_in(client, "ann@example.com")
    assert (await client.get(f"/orders/{oid}")).status_code == 404
    post = await client.post(
        f"/orders/{oid}/status", data={"csrf_token": csrf, "status": "confirmed"}
    )
    assert post.status_code == 404
    assert (await orders.get_order(conn, tables=bea["tables"], order_id=oid))["status"] == "pending"


async def test_csv_export_link_downloads_the_orders(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    cid = await add_customer(conn, ann["tables"], "Greta", phone="+4915100000001")
    await _order(conn, ann["tables"], cid, [{"name": "Blue scarf", "quantity": 1, "price": "12"}])
    await sign_in(client, "ann@example.com")
    page = await client.get("/orders")
    url = (
        re.search(r'href="(/api/v1/orders/export\.csv[^"]*)"', page.text)
        .group(1)
        .replace("&amp;", "&")
    )
    csv = await client.get(url)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "Blue scarf" in csv.text
