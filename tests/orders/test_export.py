"""CSV exports: content, many rows across batches, formula escaping, date range, admin across agents."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from tests.helpers import bearer
from tests.orders.conftest import add_customer
from wacrm.orders import export, spreadsheet
from wacrm.orders import service as orders

API = "/api/v1"


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_safe_cells() -> None:
    for bad in ("=SUM(A1)", "+1555 x", "-2 x", "@cmd", "＝1+1"):
        assert spreadsheet.cell(bad) == "'" + bad
    for bad in ("\tx", "\rx"):
        assert spreadsheet.cell(bad) == "\"'" + bad + '"'
    assert spreadsheet.cell("plain =x") == "plain =x" and spreadsheet.cell(None) == ""
    for number in ("+4917612345678", "-2", "12.50", "0"):
        assert spreadsheet.cell(number) == number


async def bulk(conn: Any, tables: Any, customer_id: int, n: int, day: str = "2026-05-01") -> None:
    """n orders with two items each, inserted with set-based SQL (totals by trigger)."""
    await conn.execute(
        tables.query(
            "INSERT INTO {orders} (customer_id, created_at) SELECT %s, %s::timestamptz + g * interval '1 second'"
            " FROM generate_series(1, %s) g"
        ),
        (customer_id, day, n),
    )
    await conn.execute(
        tables.query(
            "INSERT INTO {orders_items} (order_id, name, quantity, price)"
            " SELECT o.id, 'item ' || k, k, (o.id % 100) + 0.25 FROM {orders} o, generate_series(1, 2) k"
        )
    )


async def test_many_orders_are_exported_exactly(
    client: Any, conn: Any, agent: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(export, "BATCH", 97)  # many batches, a partial last one
    t = agent["tables"]
    await bulk(conn, t, agent["customer_id"], 1500)
    r = await client.get(f"{API}/orders/export.csv", headers=bearer(agent["token"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = parse(r.text)
    assert len(rows) == 3000
    assert list(rows[0]) == export.ORDER_HEADER
    by_order: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_order.setdefault(row["order_id"], []).append(row)
    assert len(by_order) == 1500
    for oid, lines in by_order.items():
        price = Decimal(int(oid) % 100) + Decimal("0.25")
        assert [x["item_name"] for x in lines] == ["item 1", "item 2"]
        assert [x["item_total"] for x in lines] == [str(price), str(price * 2)]
        assert lines[0]["total_amount"] == str(price * 3)
        assert lines[0]["customer_name"] == "Ann Buyer" and lines[0]["currency"] == "USD"


async def test_escaping_range_and_orders_without_items(
    client: Any, conn: Any, agent: dict[str, Any]
) -> None:
    t = agent["tables"]
    evil = await add_customer(conn, t, '=HYPERLINK("http://x")', "+15550004444")
    o = await orders.create_order(
        conn,
        tables=t,
        customer_id=evil,
        notes="@SUM(1)",
        items=[{"name": "-cmd|' /C calc'!A0", "price": "1"}],
    )
    empty = await orders.create_order(conn, tables=t, customer_id=evil)
    await conn.execute(
        t.query("UPDATE {orders} SET shipping_address = %s WHERE id = %s"),
        ("\tTab St", empty["id"]),
    )  # the service strips it; a raw writer need not
    old = await orders.create_order(conn, tables=t, customer_id=evil)
    await conn.execute(
        t.query("UPDATE {orders} SET created_at = '2020-01-01Z' WHERE id = %s"), (old["id"],)
    )
    r = await client.get(
        f"{API}/orders/export.csv",
        headers=bearer(agent["token"]),
        params={"created_from": "2025-01-01T00:00:00Z"},
    )
    rows = parse(r.text)
    assert [x["order_id"] for x in rows] == [str(o["id"]), str(empty["id"])]
    first, second = rows
    assert (
        first["customer_name"] == '\'=HYPERLINK("http://x")'
        and first["customer_phone"] == "+15550004444"
    )
    assert first["notes"] == "'@SUM(1)" and first["item_name"] == "'-cmd|' /C calc'!A0"
    assert second["item_id"] == "" and second["total_amount"] == "0.00"
    assert second["shipping_address"] == "'\tTab St"
    r = await client.get(
        f"{API}/orders/export.csv",
        headers=bearer(agent["token"]),
        params={"created_from": "2026-01-01", "created_to": "2025-01-01"},
    )
    assert r.status_code == 422


async def test_customers_export(
    client: Any, conn: Any, agent: dict[str, Any], other: dict[str, Any]
) -> None:
    t = agent["tables"]
    await orders.create_order(conn, tables=t, customer_id=agent["customer_id"])
    await add_customer(conn, t, "-Dee", "15550005555")
    r = await client.get(f"{API}/customers/export.csv", headers=bearer(agent["token"]))
    assert r.status_code == 200, r.text
    rows = parse(r.text)
    assert [(x["name"], x["order_count"]) for x in rows] == [("Ann Buyer", "1"), ("'-Dee", "0")]


async def test_admin_exports_every_agent(
    client: Any, conn: Any, agent: dict[str, Any], other: dict[str, Any], admin: dict[str, Any]
) -> None:
    await orders.create_order(
        conn,
        tables=agent["tables"],
        customer_id=agent["customer_id"],
        items=[{"name": "A", "price": "1"}],
    )
    await orders.create_order(
        conn,
        tables=other["tables"],
        customer_id=other["customer_id"],
        items=[{"name": "B", "price": "2"}, {"name": "C", "price": "3"}],
    )
    r = await client.get(f"{API}/admin/orders/export.csv", headers=bearer(admin["token"]))
    rows = parse(r.text)
    assert [(x["agent_id"], x["item_name"]) for x in rows] == [
        (str(agent["agent"]["id"]), "A"),
        (str(other["agent"]["id"]), "B"),
        (str(other["agent"]["id"]), "C"),
    ]
    assert rows[0]["agent_prefix"] == agent["agent"]["agent_prefix"]
    r = await client.get(f"{API}/admin/customers/export.csv", headers=bearer(admin["token"]))
    assert len(parse(r.text)) == 4
    r = await client.get(f"{API}/admin/orders/export.csv", headers=bearer(agent["token"]))
    assert r.status_code == 403
