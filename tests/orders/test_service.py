"""Orders service against real PostgreSQL: items, totals, validation, workflow, history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import total_of
from tests.orders.conftest import add_customer, add_message
from wacrm.orders import service as orders
from wacrm.orders.errors import OrderError


async def count(conn: Any, tables: Any, table: str) -> int:
    cur = await conn.execute(tables.query("SELECT count(*) AS n FROM {" + table + "}"))
    return (await cur.fetchone())["n"]


async def test_create_with_items_total_and_history(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    order = await orders.create_order(
        conn,
        tables=t,
        customer_id=agent["customer_id"],
        created_by=agent["user_id"],
        items=[{"name": "Mug", "quantity": 2, "price": "4.50"}, {"name": " Tea ", "price": 3}],
        notes="gift",
        shipping_address="1 Main St",
    )
    assert order["status"] == "pending"
    assert order["total_amount"] == Decimal("12.00")
    assert order["currency"].strip() == "USD"
    assert [i["name"] for i in order["items"]] == ["Mug", "Tea"]
    assert [i["total"] for i in order["items"]] == [Decimal("9.00"), Decimal("3.00")]
    assert order["history"][0]["to_status"] == "pending"
    assert order["history"][0]["changed_by"] == agent["user_id"]
    assert order["allowed_transitions"] == ["confirmed", "cancelled"]
    assert order["customer_name"] == "Ann Buyer"


async def test_item_changes_keep_total(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    assert o["total_amount"] == 0
    o = await orders.add_item(
        conn, tables=t, order_id=o["id"], name="Mug", price="4.99", quantity=3
    )
    assert o["total_amount"] == Decimal("14.97")
    o = await orders.add_item(conn, tables=t, order_id=o["id"], name="Box", price="0")
    item = o["items"][0]["id"]
    o = await orders.update_item(
        conn, tables=t, order_id=o["id"], item_id=item, quantity=1, price="10.10"
    )
    assert o["total_amount"] == Decimal("10.10")
    o = await orders.remove_item(conn, tables=t, order_id=o["id"], item_id=item)
    assert o["total_amount"] == 0 and len(o["items"]) == 1


async def test_trigger_covers_plain_sql_writers(conn: Any, agent: dict[str, Any]) -> None:
    """Inbound (or anyone) inserting rows directly still gets a right total."""
    t = agent["tables"]
    cur = await conn.execute(
        t.query("INSERT INTO {orders} (customer_id, total_amount) VALUES (%s, 999) RETURNING id"),
        (agent["customer_id"],),
    )
    oid = (await cur.fetchone())["id"]
    await conn.execute(
        t.query(
            "INSERT INTO {orders_items} (order_id, name, quantity, price) VALUES (%s,'A',2,1.25),(%s,'B',1,7)"
        ),
        (oid, oid),
    )
    await conn.execute(t.query("UPDATE {orders} SET total_amount = 1 WHERE id = %s"), (oid,))
    got = await orders.get_order(conn, tables=t, order_id=oid)
    assert got["total_amount"] == Decimal("9.50")


BAD_ITEMS = [
    ({"name": "Mug", "quantity": 0, "price": "1"}, "at least 1"),
    ({"name": "Mug", "quantity": -2, "price": "1"}, "at least 1"),
    ({"name": "Mug", "quantity": 1.5, "price": "1"}, "whole number"),
    ({"name": "Mug", "quantity": 1, "price": "-1"}, "negative"),
    ({"name": "Mug", "quantity": 1, "price": "abc"}, "not a decimal"),
    ({"name": "Mug", "quantity": 1, "price": 1.5}, "decimal string"),
    ({"name": "Mug", "quantity": 1, "price": "1.005"}, "more than 2 decimal places"),
    ({"name": "Mug", "quantity": 1, "price": "NaN"}, "not a decimal"),
    ({"name": "Mug", "quantity": 1, "price": None}, "not a decimal"),
    ({"name": "  ", "quantity": 1, "price": "1"}, "name is empty"),
    ({"quantity": 1, "price": "1"}, "name is empty"),
    ({"name": "Mu\x00g", "quantity": 1, "price": "1"}, "NUL"),
    ({"name": "Mug", "quantity": 10**9, "price": "1"}, "too large"),
    ({"name": "Mug", "quantity": 1, "price": "1" + "0" * 13}, "too large"),
]


@pytest.mark.parametrize(("item", "message"), BAD_ITEMS)
async def test_bad_items_change_nothing(
    conn: Any, agent: dict[str, Any], item: dict[str, Any], message: str
) -> None:
    t = agent["tables"]
    with pytest.raises(OrderError, match=message) as err:
        await orders.create_order(
            conn,
            tables=t,
            customer_id=agent["customer_id"],
            items=[{"name": "Ok", "price": "1"}, item],
        )
    assert err.value.status == 422
    assert await count(conn, t, "orders") == 0
    o = await orders.create_order(
        conn, tables=t, customer_id=agent["customer_id"], items=[{"name": "Ok", "price": "1"}]
    )
    with pytest.raises(OrderError, match=message):
        await orders.add_item(
            conn,
            tables=t,
            order_id=o["id"],
            name=item.get("name"),  # type: ignore[arg-type]
            quantity=item["quantity"],
            price=item["price"],
        )
    assert (await orders.get_order(conn, tables=t, order_id=o["id"]))["total_amount"] == Decimal(
        "1.00"
    )
    assert await count(conn, t, "orders_items") == 1


@pytest.mark.parametrize(
    ("currency", "good", "bad"),
    [("JPY", "500", "500.5"), ("KWD", "1.125", "1.1255"), ("EUR", "1.10", "1.101")],
)
async def test_currency_minor_units(
    conn: Any, agent: dict[str, Any], currency: str, good: str, bad: str
) -> None:
    t = agent["tables"]
    o = await orders.create_order(
        conn,
        tables=t,
        customer_id=agent["customer_id"],
        currency=currency.lower(),
        items=[{"name": "X", "price": good}],
    )
    assert o["currency"] == currency and o["total_amount"] == Decimal(good)
    with pytest.raises(OrderError, match=f"the most {currency} allows"):
        await orders.add_item(conn, tables=t, order_id=o["id"], name="Y", price=bad)
    with pytest.raises(OrderError, match="ISO 4217"):
        await orders.create_order(conn, tables=t, customer_id=agent["customer_id"], currency="EURO")


async def test_trailing_zeros_are_fine_and_agent_currency_is_default(
    conn: Any, agent: dict[str, Any]
) -> None:
    t = agent["tables"]
    await conn.execute("UPDATE agents SET default_currency = 'EUR' WHERE id = %s", (t.agent_id,))
    o = await orders.create_order(
        conn, tables=t, customer_id=agent["customer_id"], items=[{"name": "X", "price": "2.5000"}]
    )
    assert o["currency"] == "EUR" and o["total_amount"] == Decimal("2.50")


async def test_other_agents_ids_are_not_found(
    conn: Any, agent: dict[str, Any], other: dict[str, Any]
) -> None:
    t, ot = agent["tables"], other["tables"]
    with pytest.raises(OrderError) as err:
        await orders.create_order(
            conn, tables=t, customer_id=other["customer_id"], items=[{"name": "X", "price": "1"}]
        )
    assert err.value.status == 404
    theirs = await orders.create_order(
        conn, tables=ot, customer_id=other["customer_id"], items=[{"name": "X", "price": "1"}]
    )
    theirs = await orders.create_order(
        conn, tables=ot, customer_id=other["customer_id"], items=[{"name": "X", "price": "1"}]
    )
    assert theirs["id"] == 2
    mine = await orders.create_order(
        conn, tables=t, customer_id=agent["customer_id"], items=[{"name": "X", "price": "1"}]
    )
    assert mine["id"] == 1
    for call in (
        orders.get_order(conn, tables=t, order_id=theirs["id"]),
        orders.add_item(conn, tables=t, order_id=theirs["id"], name="Y", price="1"),
        orders.remove_item(conn, tables=t, order_id=theirs["id"], item_id=theirs["items"][0]["id"]),
        orders.update_item(
            conn, tables=t, order_id=mine["id"], item_id=theirs["items"][0]["id"], quantity=5
        ),
        orders.remove_item(conn, tables=t, order_id=mine["id"], item_id=theirs["items"][0]["id"]),
        orders.change_status(
            conn, tables=t, order_id=theirs["id"], status="cancelled", actor_id=None
        ),
        orders.update_order(conn, tables=t, order_id=theirs["id"], notes="x"),
    ):
        with pytest.raises(OrderError) as err:
            await call
        assert err.value.status == 404
    again = await orders.get_order(conn, tables=ot, order_id=theirs["id"])
    assert (
        again["total_amount"] == Decimal("1.00")
        and again["status"] == "pending"
        and again["notes"] is None
    )


async def test_order_from_chat_links_message(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    mid = await add_message(conn, t, agent["customer_id"])
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"], message_id=mid)
    assert o["message_id"] == mid and o["source"] == "chat"
    with pytest.raises(OrderError, match="already linked") as err:
        await orders.create_order(conn, tables=t, customer_id=agent["customer_id"], message_id=mid)
    assert err.value.status == 409
    someone = await add_customer(conn, t, "Zed", "15559998888")
    with pytest.raises(OrderError) as err:
        await orders.create_order(conn, tables=t, customer_id=someone, message_id=mid)
    assert err.value.status == 404
    assert await count(conn, t, "orders") == 1


async def test_notes_and_address(conn: Any, agent: dict[str, Any]) -> None:
    t = agent["tables"]
    o = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"], notes="a")
    o2 = await orders.update_order(conn, tables=t, order_id=o["id"], shipping_address="2 High St")
    assert o2["notes"] == "a" and o2["shipping_address"] == "2 High St"
    assert o2["updated_at"] >= o["updated_at"]
    o3 = await orders.update_order(conn, tables=t, order_id=o["id"], notes=None)
    assert o3["notes"] is None and o3["shipping_address"] == "2 High St"
    with pytest.raises(OrderError, match="too long"):
        await orders.update_order(conn, tables=t, order_id=o["id"], notes="x" * 6000)


async def test_statements_touching_many_orders(conn: Any, agent: dict[str, Any]) -> None:
    """Set-based writes (many items, several orders, an item moved between orders) keep every total."""
    t = agent["tables"]
    a = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    b = await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    await conn.execute(
        t.query(
            "INSERT INTO {orders_items} (order_id, name, quantity, price)"
            " SELECT CASE WHEN g %% 2 = 0 THEN %s ELSE %s END, 'x' || g, g, 0.5"
            " FROM generate_series(1, 10) g"
        ),
        (a["id"], b["id"]),
    )

    async def totals() -> tuple[Decimal, Decimal]:
        ga = await orders.get_order(conn, tables=t, order_id=a["id"])
        gb = await orders.get_order(conn, tables=t, order_id=b["id"])
        assert ga["total_amount"] == total_of(ga["items"])
        assert gb["total_amount"] == total_of(gb["items"])
        return ga["total_amount"], gb["total_amount"]

    assert await totals() == (Decimal("15.0"), Decimal("12.5"))
    await conn.execute(t.query("UPDATE {orders_items} SET price = price + 1"))
    assert await totals() == (Decimal("45.0"), Decimal("37.5"))
    await conn.execute(
        t.query("UPDATE {orders_items} SET order_id = %s WHERE name = 'x10'"), (b["id"],)
    )
    assert await totals() == (Decimal("30.0"), Decimal("52.5"))
    await conn.execute(t.query("DELETE FROM {orders_items} WHERE quantity > 4"))
    assert await totals() == (Decimal("9.0"), Decimal("6.0"))


async def test_order_and_items_in_one_statement(conn: Any, agent: dict[str, Any]) -> None:
    """The inbound catalog path writes the order and its items in one CTE statement, with Meta's
    total; the statement trigger sets the total from the items (here equal, then edited)."""
    t = agent["tables"]
    cur = await conn.execute(
        t.query(
            "WITH o AS (INSERT INTO {orders} (customer_id, total_amount, currency, source, source_wamid)"
            " VALUES (%s, 123.45, 'EUR', 'whatsapp_catalog', 'wamid.X') RETURNING id)"
            " , items AS (INSERT INTO {orders_items} (order_id, name, quantity, price)"
            " SELECT o.id, x.n, x.q, x.p FROM o, unnest(%s::text[], %s::int[], %s::numeric[]) x(n, q, p))"
            " SELECT id FROM o"
        ),
        (agent["customer_id"], ["sku1", "sku2"], [2, 1], ["10.00", "3.50"]),
    )
    oid = (await cur.fetchone())["id"]
    got = await orders.get_order(conn, tables=t, order_id=oid)
    assert got["total_amount"] == Decimal("23.50") and got["currency"] == "EUR"
    got = await orders.add_item(conn, tables=t, order_id=oid, name="gift wrap", price="1.99")
    assert got["total_amount"] == Decimal("25.49")
