"""Order lists: filters, text search, sorting, keyset pagination with opaque cursors; dashboard totals."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.customers import phones
from wacrm.i18n.labels import order_status_text
from wacrm.i18n.text import Text
from wacrm.orders.errors import OrderError, not_found
from wacrm.orders.workflow import STATUSES

SORTS = {"created_at": "o.created_at", "updated_at": "o.updated_at", "total": "o.total_amount"}
MAX_LIMIT = 200


def as_utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def encode_cursor(sort: str, direction: str, value: Any, order_id: int) -> str:
    raw = orjson.dumps(
        {
            "s": sort,
            "d": direction,
            "v": value.isoformat() if isinstance(value, datetime) else str(value),
            "i": order_id,
        }
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, direction: str) -> tuple[Any, int]:
    """The (sort value, id) a cursor points after; OrderError 400 if it is not one of ours for this sort."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort or data["d"] != direction:
            raise OrderError(
                Text("this cursor belongs to another sort order; start again without a cursor"),
                status=400,
            )
        value: Any = Decimal(data["v"]) if sort == "total" else datetime.fromisoformat(data["v"])
        return value, int(data["i"])
    except OrderError:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, ArithmeticError) as exc:
        raise OrderError(
            Text("the cursor is not valid; use next_cursor from a previous page"), status=400
        ) from exc


def _filters(
    tables: AgentTables,
    *,
    status: str | None,
    customer_id: int | None,
    created_from: datetime | None,
    created_to: datetime | None,
    q: str | None,
) -> tuple[list[sql.Composable], dict[str, Any]]:
    where: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if status is not None:
        if status not in STATUSES:
            raise OrderError(
                Text(
                    "unknown status {status}: it must be one of {statuses}",
                    status=repr(status),
                    statuses=[order_status_text(s) for s in STATUSES],
                )
            )
        where.append(sql.SQL("o.status = %(status)s"))
        params["status"] = status
    if customer_id is not None:
        where.append(sql.SQL("o.customer_id = %(customer_id)s"))
        params["customer_id"] = customer_id
    created_from, created_to = as_utc(created_from), as_utc(created_to)
    if created_from and created_to and created_from >= created_to:
        raise OrderError(Text("created_from must be before created_to"))
    if created_from is not None:
        where.append(sql.SQL("o.created_at >= %(created_from)s"))
        params["created_from"] = created_from
    if created_to is not None:
        where.append(sql.SQL("o.created_at < %(created_to)s"))
        params["created_to"] = created_to
    if q is not None and q.strip():
        if len(q) > 200 or "\x00" in q:
            raise OrderError(
                Text("the search text is too long (at most 200 characters) or has a NUL")
            )
        escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["q"] = f"%{escaped}%"
        # the customer: their name (the agent's or WhatsApp's), or their number however typed
        customer = "s.name ILIKE %(q)s OR s.profile_name ILIKE %(q)s"
        phone = phones.phone_match(q.strip())
        if phone is not None:
            condition, phone_params = phones.match_sql(phone, column="s.phone")
            customer += " OR " + condition
            params.update(phone_params)
        where.append(
            tables.query(
                "(o.notes ILIKE %(q)s OR o.shipping_address ILIKE %(q)s OR EXISTS"
                " (SELECT 1 FROM {orders_items} i WHERE i.order_id = o.id AND i.name ILIKE %(q)s)"
                " OR o.customer_id IN (SELECT s.id FROM {customers} s WHERE " + customer + "))"
            )
        )
    return where, params


async def list_orders(  # noqa: PLR0913 - its keyword arguments are the list's filters
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    status: str | None = None,
    customer_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: str | None = None,
    sort: str = "created_at",
    direction: str = "desc",
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of the agent's orders: {"items": [...], "next_cursor": str | None}.

    Keyset pagination on (sort column, id): stable while rows are added or changed elsewhere.
    """
    if sort not in SORTS:
        raise OrderError(
            Text("unknown sort {sort}: it must be one of {sorts}", sort=repr(sort), sorts=SORTS)
        )
    if direction not in ("asc", "desc"):
        raise OrderError(Text("direction must be asc or desc"))
    if not 1 <= limit <= MAX_LIMIT:
        raise OrderError(Text("limit must be between 1 and {max}", max=MAX_LIMIT))
    where, params = _filters(
        tables,
        status=status,
        customer_id=customer_id,
        created_from=created_from,
        created_to=created_to,
        q=q,
    )
    column = SORTS[sort]
    if cursor:
        value, after_id = decode_cursor(cursor, sort, direction)
        op = "<" if direction == "desc" else ">"
        where.append(sql.SQL(f"({column}, o.id) {op} (%(after_v)s, %(after_id)s)"))
        params.update(after_v=value, after_id=after_id)
    if customer_id is not None:
        cur = await conn.execute(
            tables.query("SELECT 1 FROM {customers} WHERE id = %s"), (customer_id,)
        )
        if await cur.fetchone() is None:
            raise not_found("customer", customer_id)
    params["limit"] = limit + 1
    query = sql.SQL(
        "SELECT o.id, o.customer_id, c.name AS customer_name, o.status, o.total_amount, o.currency,"
        " o.notes, o.shipping_address, o.source, o.created_at, o.updated_at,"
        " n.lines AS item_count, n.lines AS line_count, n.units AS unit_count"
        " FROM {orders} o JOIN {customers} c ON c.id = o.customer_id"
        " CROSS JOIN LATERAL (SELECT count(*) AS lines, coalesce(sum(i.quantity), 0) AS units"
        " FROM {orders_items} i WHERE i.order_id = o.id) n"
        " WHERE {where} ORDER BY {column} {dir}, o.id {dir} LIMIT %(limit)s"
    )
    composed = query.format(
        orders=tables.orders,
        orders_items=tables.orders_items,
        customers=tables.customers,
        where=sql.SQL(" AND ").join(where or [sql.SQL("true")]),
        column=sql.SQL(column),
        dir=sql.SQL(direction.upper()),
    )
    cur = await conn.execute(composed, params)
    rows = await cur.fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        key = {
            "created_at": last["created_at"],
            "updated_at": last["updated_at"],
            "total": last["total_amount"],
        }
        next_cursor = encode_cursor(sort, direction, key[sort], last["id"])
    return {"items": rows, "next_cursor": next_cursor}


async def status_totals(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per status and currency: how many orders and their summed total (for the dashboard)."""
    where, params = _filters(
        tables,
        status=None,
        customer_id=None,
        created_from=created_from,
        created_to=created_to,
        q=None,
    )
    query = sql.SQL(
        "SELECT o.status, o.currency, count(*) AS count, coalesce(sum(o.total_amount), 0) AS total"
        " FROM {orders} o WHERE {where} GROUP BY o.status, o.currency ORDER BY o.status, o.currency"
    ).format(orders=tables.orders, where=sql.SQL(" AND ").join(where or [sql.SQL("true")]))
    cur = await conn.execute(query, params)
    return await cur.fetchall()
