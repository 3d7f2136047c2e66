"""The errors the orders service raises for a request it refuses."""

from __future__ import annotations

from wacrm.errors import AppError, NotFoundError
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text


class OrderError(AppError, ValueError):
    """A request the orders service refuses; `status` is the HTTP status to answer with (still a
    ValueError: forms catch bad input as one)."""

    status = 422

    def __init__(
        self, message: str | Text, *, status: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, status, field=field)


class OrderNotFoundError(OrderError, NotFoundError):
    """The order itself is not there (not one of its items or its customer)."""

    status = 404


# The names of an order's fields in messages, translated where they are shown.
FIELDS = {
    "notes": N_("notes"),
    "note": N_("note"),
    "shipping_address": N_("shipping address"),
    "product_retailer_id": N_("product id"),
    "price": N_("price"),
    "shipping_cost": N_("shipping cost"),
    "discount": N_("discount"),
}


def field_label(field: str) -> Text | str:
    """A field's name for a message: translated when it is one of FIELDS."""
    return Text(FIELDS[field]) if field in FIELDS else field


def not_found(what: str, ident: object) -> OrderError:
    if what == "order":
        return OrderNotFoundError(Text("no order with id {id} for this agent", id=ident))
    if what == "customer":
        return OrderError(
            Text("no customer with id {id} for this agent", id=ident), status=404, field="customer"
        )
    return OrderError(
        Text("no {what} with id {id} for this agent", what=what, id=ident), status=404
    )
