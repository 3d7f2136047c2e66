"""CSV exports of orders (one line per item) and customers, streamed in batches from a
server-side cursor so memory stays flat however many rows there are."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from wacrm.agents.tables import AgentTables
from wacrm.db.pool import dedicated_connection
from wacrm.orders import spreadsheet
from wacrm.orders.money import format_amount

BATCH = 2000

ORDER_HEADER = [
    "order_id",
    "created_at",
    "updated_at",
    "status",
    "currency",
    "total_amount",
    "customer_id",
    "customer_name",
    "customer_phone",
    "notes",
    "shipping_address",
    "source",
    "item_id",
    "item_name",
    "product_retailer_id",
    "quantity",
    "price",
    "item_total",
]
CUSTOMER_HEADER = [
    "customer_id",
    "name",
    "phone",
    "wa_id",
    "bsuid",
    "username",
    "created_at",
    "last_message_at",
    "order_count",
]


def _ts(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def _order_line(r: Sequence[Any]) -> list[Any]:
    (
        oid,
        created,
        updated,
        status,
        currency,
        total,
        cid,
        cname,
        cphone,
        notes,
        addr,
        source,
        iid,
        iname,
        prid,
        qty,
        price,
        itotal,
    ) = r
    cur = (currency or "").strip()
    return [
        oid,
        _ts(created),
        _ts(updated),
        status,
        cur,
        format_amount(total, cur) or "",
        cid,
        cname,
        cphone,
        notes,
        addr,
        source,
        "" if iid is None else iid,
        iname,
        prid,
        "" if qty is None else qty,
        format_amount(price, cur) or "",
        format_amount(itotal, cur) or "",
    ]


def _customer_line(r: Sequence[Any]) -> list[Any]:
    cid, name, phone, wa_id, bsuid, username, created, last, n = r
    return [
        cid,
        name,
        phone,
        wa_id,
        bsuid,
        username,
        _ts(created),
        _ts(last),
        n,
    ]


def _range(
    column: str, created_from: datetime | None, created_to: datetime | None
) -> tuple[sql.Composable, dict[str, Any]]:
    parts: list[sql.Composable] = [sql.SQL("true")]
    params: dict[str, Any] = {}
    if created_from is not None:
        parts.append(sql.SQL(column + " >= %(created_from)s"))
        params["created_from"] = created_from
    if created_to is not None:
        parts.append(sql.SQL(column + " < %(created_to)s"))
        params["created_to"] = created_to
    return sql.SQL(" AND ").join(parts), params


def orders_query(
    tables: AgentTables, created_from: datetime | None, created_to: datetime | None
) -> tuple[sql.Composed, dict[str, Any]]:
    where, params = _range("o.created_at", created_from, created_to)
    return tables.query(
        "SELECT o.id, o.created_at, o.updated_at, o.status, o.currency, o.total_amount, o.customer_id,"
        " c.name, c.phone, o.notes, o.shipping_address, o.source, i.id, i.name, i.product_retailer_id,"
        " i.quantity, i.price, i.total"
        " FROM {orders} o JOIN {customers} c ON c.id = o.customer_id"
        " LEFT JOIN {orders_items} i ON i.order_id = o.id"
        " WHERE {where} ORDER BY o.id, i.id",
        where=where,
    ), params


def customers_query(
    tables: AgentTables, created_from: datetime | None, created_to: datetime | None
) -> tuple[sql.Composed, dict[str, Any]]:
    where, params = _range("c.created_at", created_from, created_to)
    return tables.query(
        "SELECT c.id, c.name, c.phone, c.wa_id, c.bsuid, c.username, c.created_at, c.last_message_at,"
        " (SELECT count(*) FROM {orders} o WHERE o.customer_id = c.id)"
        " FROM {customers} c WHERE {where} ORDER BY c.id",
        where=where,
    ), params


async def _rows(
    conn: AsyncConnection[Any], query: sql.Composed, params: dict[str, Any]
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Batches of rows from a server-side cursor (the caller holds the transaction)."""
    async with conn.cursor(name="wacrm_export", row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        while batch := await cur.fetchmany(BATCH):
            yield batch


async def stream_csv(
    pool: AsyncConnectionPool[Any],
    *,
    kind: str,
    targets: list[tuple[dict[str, Any] | None, AgentTables]],
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    with_agent: bool = False,
) -> AsyncIterator[bytes]:
    """CSV bytes for `kind` ("orders" or "customers") of every (agent, tables) in `targets`, each
    agent's rows from one read-only snapshot of its own. `with_agent` (admin export): lines start
    with agent_id and agent_prefix."""
    header, line, build = (
        (ORDER_HEADER, _order_line, orders_query)
        if kind == "orders"
        else (CUSTOMER_HEADER, _customer_line, customers_query)
    )
    # every cell by the spreadsheet rule (wacrm.orders.spreadsheet, docs/security.md)
    yield spreadsheet.line((["agent_id", "agent_prefix"] if with_agent else []) + header).encode()
    # Several agents: a connection of its own (its caches of every agent's tables end with it)
    # and one transaction per agent (a transaction keeps the locks of every table it read, and
    # one over hundreds of agents filled PostgreSQL's lock table: "out of shared memory").
    opened = dedicated_connection(pool) if len(targets) > 1 else pool.connection()
    async with opened as conn:
        for agent, tables in targets:
            lead: list[Any] = [agent["id"], agent["agent_prefix"]] if with_agent and agent else []
            query, params = build(tables, created_from, created_to)
            to_line: Callable[[Sequence[Any]], list[Any]] = line
            async with conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                async for batch in _rows(conn, query, params):
                    yield "".join(spreadsheet.line(lead + to_line(r)) for r in batch).encode()
