"""Orders and their items: create, change, status workflow with history (agent-scoped).

Every change runs in one transaction that first locks the order row (FOR NO KEY UPDATE); the
triggers of migration 0020 keep `total_amount` equal to the sum of the items' totals.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.i18n.labels import order_status_text
from wacrm.i18n.text import Text
from wacrm.orders.checks import check_item, check_name, check_quantity, check_text
from wacrm.orders.errors import OrderError, not_found
from wacrm.orders.money import check_currency, parse_price
from wacrm.orders.notify import notify_customer
from wacrm.orders.workflow import EDITABLE_STATUSES, NOTIFY_STATUSES, allowed_next, check_transition
from wacrm.realtime import events

log = logging.getLogger(__name__)

UNSET: Any = object()
ORDER_COLUMNS = (
    "o.id, o.customer_id, o.status, o.total_amount, o.currency, o.notes, o.shipping_address,"
    " o.source, o.source_wamid, o.catalog_id, o.created_by, o.created_at, o.updated_at"
)

Conn = AsyncConnection[Any]


async def _one(conn: Conn, query: Any, params: Any = None) -> dict[str, Any] | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def default_currency(conn: Conn, *, agent_id: int) -> str:
    """The agent's default currency (set when the agent was created; never empty)."""
    row = await _one(conn, "SELECT default_currency FROM agents WHERE id = %s", (agent_id,))
    if row is None:
        raise not_found("agent", agent_id)
    return str(row["default_currency"]).strip()


async def lock_order(conn: Conn, *, tables: AgentTables, order_id: int) -> dict[str, Any]:
    """The order row, locked for the rest of the transaction; OrderError 404 if the agent has none."""
    row = await _one(
        conn,
        tables.query(f"SELECT {ORDER_COLUMNS} FROM {{orders}} o WHERE o.id = %s FOR NO KEY UPDATE"),
        (order_id,),
    )
    if row is None:
        raise not_found("order", order_id)
    return row


async def _insert_items(
    conn: Conn, tables: AgentTables, order_id: int, items: list[dict[str, Any]]
) -> None:
    for item in items:
        await conn.execute(
            tables.query(
                "INSERT INTO {orders_items} (order_id, name, quantity, price, product_retailer_id)"
                " VALUES (%s, %s, %s, %s, %s)"
            ),
            (order_id, item["name"], item["quantity"], item["price"], item["product_retailer_id"]),
        )


async def create_order(
    conn: Conn,
    *,
    tables: AgentTables,
    customer_id: int,
    items: list[dict[str, Any]] | None = None,
    currency: str | None = None,
    notes: str | None = None,
    shipping_address: str | None = None,
    message_id: int | None = None,
    created_by: UUID | None = None,
) -> dict[str, Any]:
    """Create a pending order for one of the agent's customers, optionally from a chat message."""
    notes = check_text(notes, "notes")
    shipping_address = check_text(shipping_address, "shipping_address")
    if currency is None:
        currency = await default_currency(conn, agent_id=tables.agent_id)
    currency = check_currency(currency)
    checked = [check_item(dict(item), currency) for item in (items or [])]
    async with conn.transaction():
        customer = await _one(
            conn, tables.query("SELECT id FROM {customers} WHERE id = %s"), (customer_id,)
        )
        if customer is None:
            raise not_found("customer", customer_id)
        if message_id is not None:
            msg = await _one(
                conn,
                tables.query(
                    "SELECT id, customer_id, order_id FROM {messages} WHERE id = %s FOR UPDATE"
                ),
                (message_id,),
            )
            if msg is None or msg["customer_id"] != customer_id:
                raise OrderError(
                    Text("no message with id {id} in this customer's chat", id=message_id),
                    status=404,
                )
            if (linked := msg["order_id"]) is not None:
                text = Text(
                    "message {id} is already linked to order {order}", id=message_id, order=linked
                )
                raise OrderError(text, status=409)
        row = await _one(
            conn,
            tables.query(
                "INSERT INTO {orders} (customer_id, status, currency, notes, shipping_address,"
                " source, created_by) VALUES (%s, 'pending', %s, %s, %s, %s, %s) RETURNING id"
            ),
            (
                customer_id,
                currency,
                notes,
                shipping_address,
                "chat" if message_id is not None else "manual",
                created_by,
            ),
        )
        assert row is not None
        order_id = row["id"]
        await _insert_items(conn, tables, order_id, checked)
        await conn.execute(
            tables.query(
                "INSERT INTO {orders_history} (order_id, from_status, to_status, changed_by, note)"
                " VALUES (%s, NULL, 'pending', %s, 'created')"
            ),
            (order_id, created_by),
        )
        if message_id is not None:
            await conn.execute(
                tables.query("UPDATE {messages} SET order_id = %s WHERE id = %s"),
                (order_id, message_id),
            )
        return await _changed(conn, tables, order_id, customer_id)


async def _changed(
    conn: Conn, tables: AgentTables, order_id: int, customer_id: int
) -> dict[str, Any]:
    """After a change to the order (in its transaction): the live event, and the order as it is."""
    await events.notify(
        conn, kind="order", agent_id=tables.agent_id, customer_id=customer_id, order_id=order_id
    )
    return await get_order(conn, tables=tables, order_id=order_id)


async def get_order(conn: Conn, *, tables: AgentTables, order_id: int) -> dict[str, Any]:
    """The order with its customer's name, items, history and the statuses it may move to."""
    order = await _one(
        conn,
        tables.query(
            f"SELECT {ORDER_COLUMNS}, c.name AS customer_name, c.phone AS customer_phone,"
            " (SELECT m.id FROM {messages} m WHERE m.order_id = o.id ORDER BY m.id LIMIT 1) AS message_id"
            " FROM {orders} o JOIN {customers} c ON c.id = o.customer_id WHERE o.id = %s"
        ),
        (order_id,),
    )
    if order is None:
        raise not_found("order", order_id)
    cur = await conn.execute(
        tables.query(
            "SELECT id, name, quantity, price, total, product_retailer_id, created_at, updated_at"
            " FROM {orders_items} WHERE order_id = %s ORDER BY id"
        ),
        (order_id,),
    )
    order["items"] = await cur.fetchall()
    cur = await conn.execute(
        tables.query(
            "SELECT id, from_status, to_status, changed_by, changed_at, note"
            " FROM {orders_history} WHERE order_id = %s ORDER BY changed_at, id"
        ),
        (order_id,),
    )
    order["history"] = await cur.fetchall()
    order["allowed_transitions"] = list(allowed_next(order["status"]))
    return order


def _check_editable(order: dict[str, Any]) -> None:
    if order["status"] not in EDITABLE_STATUSES:
        raise OrderError(
            Text(
                "the items of a {status} order cannot be changed; items can be changed while"
                " the order is {editable}",
                status=order_status_text(order["status"]),
                editable=[order_status_text(s) for s in sorted(EDITABLE_STATUSES)],
            ),
            status=409,
        )


async def add_item(
    conn: Conn,
    *,
    tables: AgentTables,
    order_id: int,
    name: str,
    price: Any,
    quantity: int = 1,
    product_retailer_id: str | None = None,
) -> dict[str, Any]:
    """Add a line to the order; returns the order."""
    async with conn.transaction():
        order = await lock_order(conn, tables=tables, order_id=order_id)
        _check_editable(order)
        item = check_item(
            {
                "name": name,
                "quantity": quantity,
                "price": price,
                "product_retailer_id": product_retailer_id,
            },
            order["currency"].strip(),
        )
        await _insert_items(conn, tables, order_id, [item])
        return await _changed(conn, tables, order_id, order["customer_id"])


async def update_item(
    conn: Conn,
    *,
    tables: AgentTables,
    order_id: int,
    item_id: int,
    name: str | None = None,
    quantity: int | None = None,
    price: Any = None,
) -> dict[str, Any]:
    """Change a line's name, quantity or price (those given); returns the order."""
    async with conn.transaction():
        order = await lock_order(conn, tables=tables, order_id=order_id)
        item = await _one(
            conn,
            tables.query(
                "SELECT id, name, quantity, price FROM {orders_items} WHERE id = %s AND order_id = %s"
            ),
            (item_id, order_id),
        )
        if item is None:
            raise OrderError(
                Text("order {order} has no item with id {id}", order=order_id, id=item_id),
                status=404,
            )
        _check_editable(order)
        new = {
            "name": check_name(name) if name is not None else item["name"],
            "quantity": check_quantity(quantity) if quantity is not None else item["quantity"],
            "price": parse_price(price, order["currency"].strip())
            if price is not None
            else item["price"],
        }
        await conn.execute(
            tables.query(
                "UPDATE {orders_items} SET name = %s, quantity = %s, price = %s, updated_at = now()"
                " WHERE id = %s"
            ),
            (new["name"], new["quantity"], new["price"], item_id),
        )
        return await _changed(conn, tables, order_id, order["customer_id"])


async def remove_item(
    conn: Conn, *, tables: AgentTables, order_id: int, item_id: int
) -> dict[str, Any]:
    """Remove a line from the order; returns the order."""
    async with conn.transaction():
        order = await lock_order(conn, tables=tables, order_id=order_id)
        _check_editable(order)
        cur = await conn.execute(
            tables.query("DELETE FROM {orders_items} WHERE id = %s AND order_id = %s"),
            (item_id, order_id),
        )
        if cur.rowcount == 0:
            raise OrderError(
                Text("order {order} has no item with id {id}", order=order_id, id=item_id),
                status=404,
            )
        return await _changed(conn, tables, order_id, order["customer_id"])


async def update_order(
    conn: Conn,
    *,
    tables: AgentTables,
    order_id: int,
    notes: str | None = UNSET,
    shipping_address: str | None = UNSET,
) -> dict[str, Any]:
    """Change the notes and/or shipping address (None clears one); returns the order."""
    changes: dict[str, Any] = {}
    if notes is not UNSET:
        changes["notes"] = check_text(notes, "notes")
    if shipping_address is not UNSET:
        changes["shipping_address"] = check_text(shipping_address, "shipping_address")
    async with conn.transaction():
        order = await lock_order(conn, tables=tables, order_id=order_id)
        if not changes:
            return await get_order(conn, tables=tables, order_id=order_id)
        await conn.execute(
            tables.query(
                "UPDATE {orders} SET notes = CASE WHEN %(set_notes)s THEN %(notes)s ELSE notes END,"
                " shipping_address = CASE WHEN %(set_addr)s THEN %(addr)s ELSE shipping_address END,"
                " updated_at = now() WHERE id = %(id)s"
            ),
            {
                "set_notes": "notes" in changes,
                "notes": changes.get("notes"),
                "set_addr": "shipping_address" in changes,
                "addr": changes.get("shipping_address"),
                "id": order_id,
            },
        )
        return await _changed(conn, tables, order_id, order["customer_id"])


async def change_status(
    conn: Conn,
    *,
    tables: AgentTables,
    order_id: int,
    status: str,
    actor_id: UUID | None,
    note: str | None = None,
) -> dict[str, Any]:
    """Move the order along the workflow, record it in the history and, if the agent wants it,
    queue the customer's WhatsApp notification in the same transaction."""
    note = check_text(note, "note")
    async with conn.transaction():
        order = await lock_order(conn, tables=tables, order_id=order_id)
        check_transition(order["status"], status)
        await conn.execute(
            tables.query("UPDATE {orders} SET status = %s, updated_at = now() WHERE id = %s"),
            (status, order_id),
        )
        await conn.execute(
            tables.query(
                "INSERT INTO {orders_history} (order_id, from_status, to_status, changed_by, note)"
                " VALUES (%s, %s, %s, %s, %s)"
            ),
            (order_id, order["status"], status, actor_id, note),
        )
        if status in NOTIFY_STATUSES:
            await notify_customer(
                conn, tables=tables, order_id=order_id, status=status, actor_id=actor_id
            )
        return await _changed(conn, tables, order_id, order["customer_id"])
