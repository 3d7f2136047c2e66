"""The Orders page's "New order": pick a customer (search by name or phone), then the lines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope
from wacrm.conversations import service as conversations
from wacrm.customers import service as customers
from wacrm.i18n import gettext as _
from wacrm.orders import service as orders
from wacrm.orders.errors import OrderError
from wacrm.web.chat_parts import order_lines
from wacrm.web.deps import web_workspace
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
CHOICES = 20
LINES = 3


async def _choices(
    conn: AsyncConnection[Any], scope: AgentScope, q: str, chosen: int | None
) -> list[dict[str, Any]]:
    """Customers to pick from: the search's matches (name, phone however typed, message words),
    else the most recently active; the chosen one always first."""
    page = await conversations.inbox(conn, tables=scope.tables, limit=CHOICES, q=q or None)
    found = [
        {"id": c["customer_id"], "name": c["name"], "phone": c["phone"]} for c in page["items"]
    ]
    if chosen is not None and all(c["id"] != chosen for c in found):
        row = await customers.get_customer(conn, tables=scope.tables, customer_id=chosen)
        if row is not None:
            found.insert(0, {"id": row["id"], "name": row["name"], "phone": row["phone"]})
    return found


async def _page(
    request: Request,
    scope: AgentScope,
    *,
    q: str,
    chosen: int | None,
    status_code: int = 200,
    error: str | None = None,
    error_field: str = "",
    typed: dict[str, list[str]] | None = None,
    notes: str = "",
) -> Response:
    conn = scope.db
    choices = await _choices(conn, scope, q, chosen)
    currency = await orders.default_currency(conn, agent_id=scope.agent_id)
    return await render(
        request,
        "order_new.html",
        user=scope.user,
        scope=scope,
        nav="orders",
        status_code=status_code,
        q=q,
        chosen=chosen,
        choices=choices,
        currency=currency,
        error=error,
        error_field=error_field,
        typed=typed or {"names": [], "quantities": [], "prices": []},
        notes=notes,
        lines=LINES,
    )


@router.get("/orders/new", response_class=HTMLResponse)
async def new_order_page(
    request: Request,
    q: str = Query("", max_length=200),
    customer_id: int | None = Query(None, ge=1, le=2**31 - 1),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    return await _page(request, scope, q=q.strip(), chosen=customer_id)


@router.post("/orders/new")
async def create_order(
    request: Request,
    scope: AgentScope = Depends(web_workspace),
    customer_id: str = Form("", max_length=12),
    q: str = Form("", max_length=200),
    item_name: list[str] = Form([]),
    item_quantity: list[str] = Form([]),
    item_price: list[str] = Form([]),
    notes: str = Form("", max_length=2000),
) -> Response:
    """Create the order (303 to it), or the page again with the error next to its field."""
    typed = {"names": item_name, "quantities": item_quantity, "prices": item_price}
    chosen = int(customer_id) if customer_id.isdigit() and int(customer_id) < 2**31 else None
    again: dict[str, Any] = dict(q=q.strip(), chosen=chosen, typed=typed, notes=notes)
    if chosen is None:
        return await _page(
            request,
            scope,
            status_code=400,
            error=_("choose the customer the order is for"),
            error_field="customer",
            **again,
        )
    try:
        lines = order_lines(item_name, item_quantity, item_price)
        conn = scope.db
        order = await orders.create_order(
            conn,
            tables=scope.tables,
            customer_id=chosen,
            items=lines,
            notes=notes.strip() or None,
            created_by=scope.user.id,
        )
    except OrderError as exc:
        field = "customer" if exc.field == "customer" else "items"
        if field == "customer":
            again["chosen"] = None
        return await _page(
            request, scope, status_code=exc.status, error=str(exc), error_field=field, **again
        )
    except ValueError as exc:
        return await _page(
            request, scope, status_code=400, error=str(exc), error_field="items", **again
        )
    return RedirectResponse(f"/orders/{order['id']}?done=created", status_code=303)
