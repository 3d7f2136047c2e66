"""Checks of what a request gives for an order or an item: each returns the clean value or raises
OrderError saying what is wrong."""

from __future__ import annotations

from typing import Any

from wacrm.orders.errors import OrderError
from wacrm.orders.money import parse_price

MAX_NAME = 500
MAX_TEXT = 5000
MAX_QUANTITY = 1_000_000


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OrderError("the item name is empty; give the product's name")
    if "\x00" in value:
        raise OrderError("the item name contains a NUL character")
    if len(value) > MAX_NAME:
        raise OrderError(f"the item name is too long (at most {MAX_NAME} characters)")
    return value.strip()


def check_quantity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderError(f"quantity {value!r} must be a whole number of at least 1")
    if value < 1:
        raise OrderError(f"quantity must be at least 1 (got {value})")
    if value > MAX_QUANTITY:
        raise OrderError(f"quantity {value} is too large (at most {MAX_QUANTITY})")
    return value


def check_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OrderError(f"{field} must be text")
    if "\x00" in value:
        raise OrderError(f"{field} contains a NUL character")
    if len(value) > MAX_TEXT:
        raise OrderError(f"{field} is too long (at most {MAX_TEXT} characters)")
    return value.strip() or None


def check_item(item: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "name": check_name(item.get("name")),
        "quantity": check_quantity(item.get("quantity", 1)),
        "price": parse_price(item.get("price"), currency),
        "product_retailer_id": check_text(item.get("product_retailer_id"), "product_retailer_id"),
    }
