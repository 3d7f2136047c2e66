"""Orders API (agent-scoped, /api/v1): orders, items, status, lists, totals, CSV exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope, CurrentUser, agent_scope, db_conn, require_admin
from wacrm.agents.tables import AgentTables
from wacrm.orders import export, queries
from wacrm.orders import service as orders
from wacrm.orders.schemas import (
    ItemIn,
    ItemUpdate,
    OrderCreate,
    OrderOut,
    OrderPage,
    OrderUpdate,
    StatusChange,
    StatusTotal,
    order_out,
    order_summary,
    status_total,
)

router = APIRouter(prefix="/api/v1", tags=["orders"])
Conn = AsyncConnection[Any]

FROM_Q = Query(None, description="orders created at or after this instant (ISO 8601; naive = UTC)")
TO_Q = Query(None, description="orders created before this instant (ISO 8601; naive = UTC)")


def _csv(body: Any, filename: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _check_range(created_from: datetime | None, created_to: datetime | None) -> None:
    if created_from and created_to and queries.as_utc(created_from) >= queries.as_utc(created_to):  # type: ignore[operator]
        raise HTTPException(422, detail="created_from must be before created_to")


def _export(
    request: Request,
    kind: str,
    targets: list[tuple[dict[str, Any] | None, AgentTables]],
    created_from: datetime | None,
    created_to: datetime | None,
    filename: str,
    *,
    with_agent: bool = False,
) -> StreamingResponse:
    """A streamed CSV export of `kind` ('orders' or 'customers') over `targets`, as a download."""
    _check_range(created_from, created_to)
    body = export.stream_csv(
        request.app.state.reads.pool_for("export"),
        kind=kind,
        targets=targets,
        created_from=queries.as_utc(created_from),
        created_to=queries.as_utc(created_to),
        with_agent=with_agent,
    )
    return _csv(body, filename)


@router.get("/orders/export.csv", response_class=StreamingResponse)
async def export_orders(
    request: Request,
    scope: AgentScope = Depends(agent_scope),
    created_from: datetime | None = FROM_Q,
    created_to: datetime | None = TO_Q,
) -> StreamingResponse:
    """The agent's orders as CSV, one line per item (orders without items: one line)."""
    return _export(
        request,
        "orders",
        [(scope.agent, scope.tables)],
        created_from,
        created_to,
        f"orders-{scope.agent['agent_prefix']}.csv",
    )


@router.get("/customers/export.csv", response_class=StreamingResponse)
async def export_customers(
    request: Request,
    scope: AgentScope = Depends(agent_scope),
    created_from: datetime | None = FROM_Q,
    created_to: datetime | None = TO_Q,
) -> StreamingResponse:
    """The agent's customers as CSV (with their number of orders)."""
    return _export(
        request,
        "customers",
        [(scope.agent, scope.tables)],
        created_from,
        created_to,
        f"customers-{scope.agent['agent_prefix']}.csv",
    )


async def _all_agents(conn: Conn) -> list[tuple[dict[str, Any] | None, AgentTables]]:
    cur = await conn.execute("SELECT id, agent_prefix FROM agents ORDER BY id")
    return [(dict(a), AgentTables(a["id"], a["agent_prefix"])) for a in await cur.fetchall()]


@router.get("/admin/orders/export.csv", response_class=StreamingResponse)
async def admin_export_orders(
    request: Request,
    _: CurrentUser = Depends(require_admin),
    conn: Conn = Depends(db_conn),
    created_from: datetime | None = FROM_Q,
    created_to: datetime | None = TO_Q,
) -> StreamingResponse:
    """Every agent's orders as CSV (admins)."""
    return _export(
        request,
        "orders",
        await _all_agents(conn),
        created_from,
        created_to,
        "orders-all-agents.csv",
        with_agent=True,
    )


@router.get("/admin/customers/export.csv", response_class=StreamingResponse)
async def admin_export_customers(
    request: Request,
    _: CurrentUser = Depends(require_admin),
    conn: Conn = Depends(db_conn),
    created_from: datetime | None = FROM_Q,
    created_to: datetime | None = TO_Q,
) -> StreamingResponse:
    """Every agent's customers as CSV (admins)."""
    return _export(
        request,
        "customers",
        await _all_agents(conn),
        created_from,
        created_to,
        "customers-all-agents.csv",
        with_agent=True,
    )


@router.get("/orders/totals", response_model=list[StatusTotal])
async def order_totals(
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
    created_from: datetime | None = FROM_Q,
    created_to: datetime | None = TO_Q,
) -> list[StatusTotal]:
    """Count and sum of orders per status and currency (dashboard)."""
    rows = await queries.status_totals(
        conn, tables=scope.tables, created_from=created_from, created_to=created_to
    )
    return [status_total(r) for r in rows]


@router.get("/orders", response_model=OrderPage)
async def list_orders(
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
    status: str | None = None,
    customer_id: int | None = None,
    created_from: datetime | None = FROM_Q,
    created_to: datetime | None = TO_Q,
    q: str | None = Query(None, description="text in notes, shipping address or item names"),
    sort: str = Query("created_at", description="created_at, updated_at or total"),
    direction: str = Query("desc", description="asc or desc"),
    limit: int = Query(50, description=f"1 to {queries.MAX_LIMIT}"),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
) -> OrderPage:
    """The agent's orders, filtered, sorted, a page at a time."""
    page = await queries.list_orders(
        conn,
        tables=scope.tables,
        status=status,
        customer_id=customer_id,
        created_from=created_from,
        created_to=created_to,
        q=q,
        sort=sort,
        direction=direction,
        limit=limit,
        cursor=cursor,
    )
    return OrderPage(
        items=[order_summary(r) for r in page["items"]], next_cursor=page["next_cursor"]
    )


@router.get("/customers/{customer_id}/orders", response_model=OrderPage)
async def customer_orders(
    customer_id: int,
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> OrderPage:
    """One customer's orders, newest first."""
    page = await queries.list_orders(
        conn,
        tables=scope.tables,
        customer_id=customer_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return OrderPage(
        items=[order_summary(r) for r in page["items"]], next_cursor=page["next_cursor"]
    )


@router.post("/orders", response_model=OrderOut, status_code=201)
async def create_order(
    body: OrderCreate, scope: AgentScope = Depends(agent_scope), conn: Conn = Depends(db_conn)
) -> OrderOut:
    """Create a pending order for one of the agent's customers (optionally from a chat message)."""
    row = await orders.create_order(
        conn,
        tables=scope.tables,
        customer_id=body.customer_id,
        items=[i.model_dump() for i in body.items],
        currency=body.currency,
        notes=body.notes,
        shipping_address=body.shipping_address,
        message_id=body.message_id,
        created_by=scope.user.id,
    )
    return order_out(row)


@router.get("/orders/{order_id:int}", response_model=OrderOut)
async def get_order(
    order_id: int, scope: AgentScope = Depends(agent_scope), conn: Conn = Depends(db_conn)
) -> OrderOut:
    """The order with its items and status history."""
    return order_out(await orders.get_order(conn, tables=scope.tables, order_id=order_id))


@router.patch("/orders/{order_id:int}", response_model=OrderOut)
async def update_order(
    order_id: int,
    body: OrderUpdate,
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
) -> OrderOut:
    """Change notes and/or shipping address (only the fields sent)."""
    fields = body.model_dump(include=body.model_fields_set)
    return order_out(
        await orders.update_order(conn, tables=scope.tables, order_id=order_id, **fields)
    )


@router.post("/orders/{order_id}/items", response_model=OrderOut, status_code=201)
async def add_item(
    order_id: int,
    body: ItemIn,
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
) -> OrderOut:
    """Add a line; the answer is the whole order with its new total."""
    return order_out(
        await orders.add_item(conn, tables=scope.tables, order_id=order_id, **body.model_dump())
    )


@router.patch("/orders/{order_id}/items/{item_id}", response_model=OrderOut)
async def update_item(
    order_id: int,
    item_id: int,
    body: ItemUpdate,
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
) -> OrderOut:
    """Change a line's name, quantity or price."""
    return order_out(
        await orders.update_item(
            conn, tables=scope.tables, order_id=order_id, item_id=item_id, **body.model_dump()
        )
    )


@router.delete("/orders/{order_id}/items/{item_id}", response_model=OrderOut)
async def remove_item(
    order_id: int,
    item_id: int,
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
) -> OrderOut:
    """Remove a line."""
    return order_out(
        await orders.remove_item(conn, tables=scope.tables, order_id=order_id, item_id=item_id)
    )


@router.post("/orders/{order_id}/status", response_model=OrderOut)
async def change_status(
    order_id: int,
    body: StatusChange,
    scope: AgentScope = Depends(agent_scope),
    conn: Conn = Depends(db_conn),
) -> OrderOut:
    """Move the order along pending → confirmed → processing → shipped → delivered (or cancelled)."""
    return order_out(
        await orders.change_status(
            conn,
            tables=scope.tables,
            order_id=order_id,
            status=body.status,
            actor_id=scope.user.id,
            note=body.note,
        )
    )
