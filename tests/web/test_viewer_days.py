"""Days typed in filters are the viewer's days (the orders list and its export link)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conversations.factory import add_customer
from tests.web.conftest import sign_in, user_with_password
from wacrm.orders import service as orders


async def test_the_orders_date_filter_counts_the_viewers_days(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    cid = await add_customer(conn, ana["tables"], "Bia", phone="+5511900000001")
    order = await orders.create_order(conn, tables=ana["tables"], customer_id=cid)
    await conn.execute(
        ana["tables"].query("UPDATE {orders} SET created_at = %s WHERE id = %s"),
        (datetime(2026, 3, 11, 1, 30, tzinfo=UTC), order["id"]),  # 10 March, 22:30 in São Paulo
    )
    await sign_in(client, "ana@example.com")
    client.cookies.set("wacrm_tz", "America/Sao_Paulo")
    row = f'data-order-id="{order["id"]}"'
    tenth = await client.get("/orders", params={"from": "2026-03-10", "to": "2026-03-10"})
    assert tenth.status_code == 200 and row in tenth.text
    assert "created_from=2026-03-10T00%3A00%3A00-03%3A00" in tenth.text  # the export link too
    eleventh = await client.get("/orders", params={"from": "2026-03-11", "to": "2026-03-11"})
    assert eleventh.status_code == 200 and row not in eleventh.text
    client.cookies.set("wacrm_tz", "UTC")
    utc = await client.get("/orders", params={"from": "2026-03-11", "to": "2026-03-11"})
    assert row in utc.text
