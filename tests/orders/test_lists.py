"""Lists: filters, text search, sorts, keyset cursors (stable under inserts), per-status totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import bearer
from tests.orders.conftest import add_customer
from wacrm.orders import queries
from wacrm.orders import service as orders
from wacrm.orders.errors import OrderError

API = "/api/v1"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def seed_orders(conn: Any, agent: dict[str, Any]) -> list[dict[str, Any]]:
    """12 orders, one a day from T0, prices 1..12, alternating two customers; a few moved on."""
    t = agent["tables"]
    await conn.execute("UPDATE agents SET notify_order_status = false WHERE id = %s", (t.agent_id,))
    second = await add_customer(conn, t, "Carl", "15550003333")
    made = []
    for n in range(12):
        o = await orders.create_order(
            conn,
            tables=t,
            customer_id=agent["customer_id"] if n % 2 == 0 else second,
            items=[{"name": "Blue mug" if n % 3 == 0 else "Green tea", "price": str(n + 1)}],
            notes="rush 100%" if n == 5 else None,
            currency="EUR" if n == 11 else "USD",
        )
        await conn.execute(
            t.query("UPDATE {orders} SET created_at = %s, updated_at = %s WHERE id = %s"),
            (T0 + timedelta(days=n), T0 + timedelta(days=30 - n), o["id"]),
        )
        if n in (1, 2, 3):
            await orders.change_status(
                conn, tables=t, order_id=o["id"], status="confirmed", actor_id=None
            )
        made.append(o)
    return made


async def all_pages(conn: Any, t: Any, **kw: Any) -> list[int]:
    ids, cursor = [], None
    while True:
        page = await queries.list_orders(conn, tables=t, limit=5, cursor=cursor, **kw)
        ids += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def test_sorts_and_pages(conn: Any, agent: dict[str, Any]) -> None:
    made = await seed_orders(conn, agent)
    t = agent["tables"]
    ids = [o["id"] for o in made]
    assert await all_pages(conn, t) == ids[::-1]
    assert await all_pages(conn, t, direction="asc") == ids
    by_total = await all_pages(conn, t, sort="total", direction="desc")
    totals = [
        (await orders.get_order(conn, tables=t, order_id=i))["total_amount"] for i in by_total
    ]
    assert totals == sorted(totals, reverse=True) and len(by_total) == 12


async def test_updated_at_sort(conn: Any, agent: dict[str, Any]) -> None:
    made = await seed_orders(conn, agent)
    t = agent["tables"]
    got = await all_pages(conn, t, sort="updated_at", direction="desc")
    cur = await conn.execute(t.query("SELECT id FROM {orders} ORDER BY updated_at DESC, id DESC"))
    assert got == [r["id"] for r in await cur.fetchall()] and len(got) == len(made)


async def test_cursor_is_stable_when_orders_are_added(conn: Any, agent: dict[str, Any]) -> None:
    made = await seed_orders(conn, agent)
    t = agent["tables"]
    page1 = await queries.list_orders(conn, tables=t, limit=5)
    await orders.create_order(
        conn, tables=t, customer_id=agent["customer_id"]
    )  # newest, before page 1
    page2 = await queries.list_orders(conn, tables=t, limit=5, cursor=page1["next_cursor"])
    expected = [o["id"] for o in made][::-1]
    assert [r["id"] for r in page1["items"] + page2["items"]] == expected[:10]


async def test_filters_and_text(conn: Any, agent: dict[str, Any]) -> None:
    made = await seed_orders(conn, agent)
    t = agent["tables"]
    ids = [o["id"] for o in made]
    assert sorted(await all_pages(conn, t, status="confirmed")) == ids[1:4]
    assert sorted(await all_pages(conn, t, customer_id=agent["customer_id"])) == ids[0::2]
    assert (
        sorted(
            await all_pages(
                conn, t, created_from=T0 + timedelta(days=3), created_to=T0 + timedelta(days=6)
            )
        )
        == ids[3:6]
    )
    assert sorted(await all_pages(conn, t, q="BLUE")) == ids[0::3]
    assert await all_pages(conn, t, q="100%") == [ids[5]]
    assert await all_pages(conn, t, q="_") == []  # LIKE wildcards are literal
    assert sorted(await all_pages(conn, t, q="tea", status="confirmed")) == [ids[1], ids[2]]


@pytest.mark.parametrize(
    "kw",
    [
        {"status": "lost"},
        {"sort": "name"},
        {"direction": "up"},
        {"limit": 0},
        {"limit": 1000},
        {"cursor": "garbage!"},
        {"created_from": T0, "created_to": T0},
        {"q": "a\x00b"},
        {"q": "x" * 201},
    ],
)
async def test_bad_list_arguments(conn: Any, agent: dict[str, Any], kw: dict[str, Any]) -> None:
    with pytest.raises(OrderError) as err:
        await queries.list_orders(conn, tables=agent["tables"], **kw)
    assert err.value.status in (400, 422)


async def test_cursor_of_another_sort_is_refused(conn: Any, agent: dict[str, Any]) -> None:
    await seed_orders(conn, agent)
    page = await queries.list_orders(conn, tables=agent["tables"], limit=2)
    with pytest.raises(OrderError, match="another sort") as err:
        await queries.list_orders(
            conn, tables=agent["tables"], limit=2, sort="total", cursor=page["next_cursor"]
        )
    assert err.value.status == 400


async def test_status_totals(conn: Any, agent: dict[str, Any]) -> None:
    await seed_orders(conn, agent)
    rows = await queries.status_totals(conn, tables=agent["tables"])
    got = {(r["status"], r["currency"].strip()): (r["count"], r["total"]) for r in rows}
    assert got == {
        ("confirmed", "USD"): (3, Decimal(2 + 3 + 4)),
        ("pending", "USD"): (8, Decimal(1 + 5 + 6 + 7 + 8 + 9 + 10 + 11)),
        ("pending", "EUR"): (1, Decimal(12)),
    }


async def test_lists_over_http(
    client: Any, conn: Any, agent: dict[str, Any], other: dict[str, Any]
) -> None:
    made = await seed_orders(conn, agent)
    h = bearer(agent["token"])
    r = await client.get(f"{API}/orders", headers=h, params={"limit": 4, "q": "mug"})
    body = r.json()
    assert r.status_code == 200 and [o["id"] for o in body["items"]] == [
        made[9]["id"],
        made[6]["id"],
        made[3]["id"],
        made[0]["id"],
    ]
    assert body["items"][0]["total_amount"] == "10.00" and body["next_cursor"] is None
    r = await client.get(f"{API}/orders", headers=h, params={"limit": 5})
    r2 = await client.get(
        f"{API}/orders", headers=h, params={"limit": 5, "cursor": r.json()["next_cursor"]}
    )
    assert [o["id"] for o in r2.json()["items"]] == [o["id"] for o in made][::-1][5:10]
    r = await client.get(f"{API}/orders", headers=h, params={"created_from": "2026-03-11"})
    assert [o["id"] for o in r.json()["items"]] == [made[11]["id"], made[10]["id"]]
    r = await client.get(f"{API}/customers/{agent['customer_id']}/orders", headers=h)
    assert sorted(o["id"] for o in r.json()["items"]) == [o["id"] for o in made[0::2]]
    r = await client.get(f"{API}/orders/totals", headers=h)
    assert {"status": "pending", "currency": "EUR", "count": 1, "total": "12.00"} in r.json()
    assert (
        await client.get(f"{API}/orders", headers=h, params={"sort": "bogus"})
    ).status_code == 422
    assert (await client.get(f"{API}/orders", headers=h, params={"cursor": "x"})).status_code == 400
    assert (await client.get(f"{API}/orders", headers=bearer(other["token"]))).json()["items"] == []
