"""Request and response bodies of the orders API (amounts are decimal strings, never floats)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from wacrm.orders.money import format_amount

Amount = Annotated[
    StrictStr | StrictInt,
    Field(
        description='a decimal string such as "12.50" (at most the currency\'s decimal places)',
        examples=["12.50"],
    ),
]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="product name (not empty)")
    quantity: int = Field(1, strict=True, description="at least 1")
    price: Amount
    product_retailer_id: str | None = None


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: int
    items: list[ItemIn] = Field(default_factory=list)
    currency: str | None = Field(
        None, description="ISO 4217 code; default the agent's default currency"
    )
    notes: str | None = None
    shipping_address: str | None = None
    message_id: int | None = Field(None, description="the chat message this order comes from")


class ItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    quantity: int | None = Field(None, strict=True)
    price: Amount | None = None


class OrderUpdate(BaseModel):
    """Only the fields given change; null clears a field."""

    model_config = ConfigDict(extra="forbid")
    notes: str | None = None
    shipping_address: str | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(
        description="pending, confirmed, processing, shipped, delivered or cancelled"
    )
    note: str | None = None


class ItemOut(BaseModel):
    id: int
    name: str
    quantity: int
    price: str
    total: str
    product_retailer_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class HistoryOut(BaseModel):
    id: int
    from_status: str | None
    to_status: str
    changed_by: UUID | None
    changed_at: datetime
    note: str | None


class OrderSummary(BaseModel):
    id: int
    customer_id: int
    customer_name: str | None = None
    status: str
    total_amount: str
    currency: str
    notes: str | None
    shipping_address: str | None
    source: str | None = None
    item_count: int | None = Field(
        None, description="lines (rows) of the order; the same as line_count (kept for clients)"
    )
    line_count: int | None = Field(None, description="lines of the order (one per product)")
    unit_count: int | None = Field(
        None, description="units ordered: the sum of the lines' quantities (what pages show)"
    )
    created_at: datetime
    updated_at: datetime


class OrderOut(OrderSummary):
    customer_phone: str | None = None
    message_id: int | None = None
    source_wamid: str | None = None
    catalog_id: str | None = None
    created_by: UUID | None = None
    items: list[ItemOut]
    history: list[HistoryOut]
    allowed_transitions: list[str]


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None = Field(
        None, description="pass as cursor to get the next page; null at the end"
    )


class StatusTotal(BaseModel):
    status: str
    currency: str
    count: int
    total: str


def _money(row: dict[str, Any], currency: str, *keys: str) -> dict[str, Any]:
    return {**row, **{k: format_amount(row[k], currency) for k in keys}}


def order_summary(row: dict[str, Any]) -> OrderSummary:
    cur = row["currency"].strip()
    return OrderSummary.model_validate({**_money(row, cur, "total_amount"), "currency": cur})


def order_out(row: dict[str, Any]) -> OrderOut:
    cur = row["currency"].strip()
    items = [_money(i, cur, "price", "total") for i in row["items"]]
    return OrderOut.model_validate(
        {
            **_money(row, cur, "total_amount"),
            "currency": cur,
            "items": items,
            "item_count": len(items),
            "line_count": len(items),
            "unit_count": sum(int(i["quantity"]) for i in items),
        }
    )


def status_total(row: dict[str, Any]) -> StatusTotal:
    cur = row["currency"].strip()
    return StatusTotal(
        status=row["status"],
        currency=cur,
        count=row["count"],
        total=format_amount(row["total"], cur) or "0",
    )
