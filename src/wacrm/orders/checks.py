"""Checks of what a request gives for an order or an item: each returns the clean value or raises
OrderError saying what is wrong."""

from __future__ import annotations

from typing import Any

from wacrm.i18n.text import Text
from wacrm.orders.errors import OrderError, field_label
from wacrm.orders.money import parse_price

MAX_NAME = 500
MAX_TEXT = 5000
MAX_QUANTITY = 1_000_000


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OrderError(Text("the item name is empty; give the product's name"))
    if "\x00" in value:
        raise OrderError(Text("the item name contains a NUL character"))
    if len(value) > MAX_NAME:
        raise OrderError(Text("the item name is too long (at most {max} characters)", max=MAX_NAME))
    return value.strip()


def check_quantity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderError(
            Text("quantity {value} must be a whole number of at least 1", value=repr(value))
        )
    if value < 1:
        raise OrderError(Text("quantity must be at least 1 (got {value})", value=value))
    if value > MAX_QUANTITY:
        raise OrderError(
            Text("quantity {value} is too large (at most {max})", value=value, max=MAX_QUANTITY)
        )
    return value


def check_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OrderError(Text("{field} must be text", field=field_label(field)))
    if "\x00" in value:
        raise OrderError(Text("{field} contains a NUL character", field=field_label(field)))
    if len(value) > MAX_TEXT:
        raise OrderError(
            Text(
                "{field} is too long (at most {max} characters)",
                field=field_label(field),
                max=MAX_TEXT,
            )
        )
    return value.strip() or None


def check_item(item: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "name": check_name(item.get("name")),
        "quantity": check_quantity(item.get("quantity", 1)),
        "price": parse_price(item.get("price"), currency),
        "product_retailer_id": check_text(item.get("product_retailer_id"), "product_retailer_id"),
    }
