"""The orders pages: list (filters, per-status totals, "more" pages), detail (items, status, history)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg import AsyncConnection

from wacrm import i18n
from wacrm.accounts import service as accounts
from wacrm.accounts.deps import AgentScope
from wacrm.errors import AppError
from wacrm.i18n import gettext as _
from wacrm.i18n.labels import N_, order_status_text
from wacrm.i18n.text import Text
from wacrm.orders import money
from wacrm.orders import queries as order_queries
from wacrm.orders import service as orders
from wacrm.orders.errors import OrderError, OrderNotFoundError
from wacrm.orders.workflow import EDITABLE_STATUSES, STATUSES
from wacrm.web.deps import web_workspace
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
OrderId = Path(..., ge=1, le=2**31 - 1)
ItemId = Path(..., ge=1, le=2**31 - 1)
PAGE = 50
DAY_FIELDS = {"from": N_("From"), "to": N_("To")}
DONE = {
    "created": Text("Order created."),
    "added": Text("Item added."),
    "saved": Text("Item saved."),
    "removed": Text("Item removed."),
    "status": Text("Status changed."),
    "details": Text("Notes and address saved."),
}


def parse_day(value: str, field: str) -> date | None:
    """A YYYY-MM-DD form field (empty: none); a 400 AppError naming the field otherwise."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        detail = Text("{field} must be a date like 2026-01-31", field=Text(DAY_FIELDS[field]))
        raise AppError(detail, 400, field=field) from exc


def day_range(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Inclusive days of the viewer's time zone as a half-open instant range."""
    zone = i18n.viewer().tz
    lo = datetime.combine(start, time(), zone) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), zone) if end else None
    if lo and hi and lo >= hi:
        raise HTTPException(400, detail=_("the start date must not be after the end date"))
    return lo, hi


class Filters:
    """The list's filters from the query string, checked once."""

    def __init__(
        self,
        status: str = Query("", max_length=20),
        start: str = Query("", alias="from", max_length=20),
        end: str = Query("", alias="to", max_length=20),
        q: str = Query("", max_length=200),
    ) -> None:
        if status and status not in STATUSES:
            detail = Text(
                "unknown status {status}: use one of {statuses}",
                status=repr(status),
                statuses=[order_status_text(s) for s in STATUSES],
            )
            raise HTTPException(400, detail=str(detail))
        self.status, self.q = status, q.strip()
        self.start, self.end = parse_day(start, "from"), parse_day(end, "to")
        if self.start and self.end and self.start > self.end:
            raise HTTPException(400, detail=_("the start date must not be after the end date"))

    @property
    def created_from(self) -> datetime | None:
        """The first instant of the From day in the viewer's zone (read in the route: the
        signed-in user's saved zone applies by then)."""
        return day_range(self.start, None)[0]

    @property
    def created_to(self) -> datetime | None:
        return day_range(None, self.end)[1]

    def query(self, **extra: Any) -> str:
        values = {
            "status": self.status,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "q": self.q,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})

    def export_url(self, agent_id: int) -> str:
        params: dict[str, Any] = {"agent_id": agent_id}
        if self.created_from:
            params["created_from"] = self.created_from.isoformat()
        if self.created_to:
            params["created_to"] = self.created_to.isoformat()
        return "/api/v1/orders/export.csv?" + urlencode(params)


async def _page(
    conn: AsyncConnection[Any], scope: AgentScope, f: Filters, cursor: str | None
) -> dict[str, Any]:
    return await order_queries.list_orders(
        conn,
        tables=scope.tables,
        status=f.status or None,
        created_from=f.created_from,
        created_to=f.created_to,
        q=f.q or None,
        limit=PAGE,
        cursor=cursor,
    )


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(
    request: Request, f: Filters = Depends(), scope: AgentScope = Depends(web_workspace)
) -> Response:
    conn = scope.db
    page = await _page(conn, scope, f, None)
    totals = await order_queries.status_totals(
        conn, tables=scope.tables, created_from=f.created_from, created_to=f.created_to
    )
    return await render(
        request,
        "orders.html",
        user=scope.user,
        scope=scope,
        nav="orders",
        page=page,
        f=f,
        totals=totals,
        statuses=STATUSES,
        export_url=f.export_url(scope.agent_id),
    )


@router.get("/orders/list", response_class=HTMLResponse)
async def orders_more(
    request: Request,
    f: Filters = Depends(),
    cursor: str = Query(..., min_length=1, max_length=400),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    """The page after `cursor`: rows and the next "more" button (replaces the old one)."""
    conn = scope.db
    page = await _page(conn, scope, f, cursor)
    return await render(request, "partials/orders_rows.html", page=page, f=f)


async def _names(conn: AsyncConnection[Any], ids: set[UUID]) -> dict[UUID, str]:
    """Who changed the status: user names by id (deleted users stay unnamed)."""
    names = {}
    for uid in ids:
        try:
            names[uid] = (await accounts.get_user(conn, user_id=uid))["name"]
        except accounts.AccountNotFoundError:
            continue
    return names


async def _detail(
    request: Request,
    scope: AgentScope,
    order_id: int,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_form: str = "",
    typed: dict[str, str] | None = None,
    done: str = "",
) -> Response:
    conn = scope.db
    order = await orders.get_order(conn, tables=scope.tables, order_id=order_id)
    names = await _names(conn, {h["changed_by"] for h in order["history"] if h["changed_by"]})
    order["line_count"] = len(order["items"])  # the pages count units, labelled, and lines
    order["unit_count"] = sum(int(i["quantity"]) for i in order["items"])
    return await render(
        request,
        "order.html",
        user=scope.user,
        scope=scope,
        nav="orders",
        o=order,
        names=names,
        error=error,
        error_form=error_form,
        typed=typed or {},
        message=DONE.get(done),
        status_code=status_code,
        editable=order["status"] in EDITABLE_STATUSES,
    )


@router.get("/orders/{order_id:int}", response_class=HTMLResponse)
async def order_page(
    request: Request,
    order_id: int = OrderId,
    done: str = Query("", max_length=20),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    return await _detail(request, scope, order_id, done=done)


async def _change(
    request: Request,
    scope: AgentScope,
    order_id: int,
    done: str,
    call: Any,
    *,
    form: str,
    typed: dict[str, str] | None = None,
) -> Response:
    """Run one change; on success back to the order (303), else the order with the error next
    to the form that was sent (`form`) and what was typed in it (4xx)."""
    conn = scope.db
    try:
        await call(conn)
    except OrderNotFoundError:
        raise  # the page itself is not there: 404 (the app's handler)
    except OrderError as exc:
        return await _detail(
            request,
            scope,
            order_id,
            status_code=exc.status,
            error=str(exc),
            error_form=form,
            typed=typed,
        )
    return RedirectResponse(f"/orders/{order_id}?done={done}", status_code=303)


def _quantity(value: str) -> int:
    value = value.strip()
    if not value.isdigit():
        raise OrderError(
            Text("quantity {value} must be a whole number of at least 1", value=repr(value)),
            status=400,
        )
    return int(value)


@router.post("/orders/{order_id}/items")
async def add_item(
    request: Request,
    order_id: int = OrderId,
    scope: AgentScope = Depends(web_workspace),
    name: str = Form("", max_length=600),
    quantity: str = Form("1", max_length=12),
    price: str = Form("", max_length=40),
) -> Response:
    async def call(conn: Any) -> None:
        await orders.add_item(
            conn,
            tables=scope.tables,
            order_id=order_id,
            name=name,
            quantity=_quantity(quantity),
            price=money.form_price(price),
        )

    typed = {"name": name, "quantity": quantity, "price": price}
    return await _change(request, scope, order_id, "added", call, form="add", typed=typed)


@router.post("/orders/{order_id}/items/{item_id}")
async def edit_item(
    request: Request,
    order_id: int = OrderId,
    item_id: int = ItemId,
    scope: AgentScope = Depends(web_workspace),
    name: str = Form("", max_length=600),
    quantity: str = Form("1", max_length=12),
    price: str = Form("", max_length=40),
) -> Response:
    async def call(conn: Any) -> None:
        await orders.update_item(
            conn,
            tables=scope.tables,
            order_id=order_id,
            item_id=item_id,
            name=name,
            quantity=_quantity(quantity),
            price=money.form_price(price),
        )

    typed = {"name": name, "quantity": quantity, "price": price}
    return await _change(
        request, scope, order_id, "saved", call, form=f"item-{item_id}", typed=typed
    )


@router.post("/orders/{order_id}/items/{item_id}/remove")
async def remove_item(
    request: Request,
    order_id: int = OrderId,
    item_id: int = ItemId,
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    async def call(conn: Any) -> None:
        await orders.remove_item(conn, tables=scope.tables, order_id=order_id, item_id=item_id)

    return await _change(request, scope, order_id, "removed", call, form=f"item-{item_id}")


@router.post("/orders/{order_id}/status")
async def change_status(
    request: Request,
    order_id: int = OrderId,
    scope: AgentScope = Depends(web_workspace),
    status: str = Form("", max_length=20),
    note: str = Form("", max_length=2000),
) -> Response:
    async def call(conn: Any) -> None:
        await orders.change_status(
            conn,
            tables=scope.tables,
            order_id=order_id,
            status=status,
            actor_id=scope.user.id,
            note=note.strip() or None,
        )

    return await _change(request, scope, order_id, "status", call, form="status")


@router.post("/orders/{order_id}/details")
async def edit_details(
    request: Request,
    order_id: int = OrderId,
    scope: AgentScope = Depends(web_workspace),
    notes: str = Form("", max_length=5000),
    shipping_address: str = Form("", max_length=5000),
) -> Response:
    async def call(conn: Any) -> None:
        await orders.update_order(
            conn,
            tables=scope.tables,
            order_id=order_id,
            notes=notes.strip() or None,
            shipping_address=shipping_address.strip() or None,
        )

    typed = {"notes": notes, "shipping_address": shipping_address}
    return await _change(request, scope, order_id, "details", call, form="details", typed=typed)
