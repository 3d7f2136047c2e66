"""The order status workflow: which status may follow which."""

from __future__ import annotations

from wacrm.i18n.labels import order_status_text
from wacrm.i18n.text import Text
from wacrm.orders.errors import OrderError

STATUSES = ("pending", "confirmed", "processing", "shipped", "delivered", "cancelled")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("confirmed", "cancelled"),
    "confirmed": ("processing", "cancelled"),
    "processing": ("shipped", "cancelled"),
    "shipped": ("delivered", "cancelled"),
    "delivered": (),
    "cancelled": (),
}
NOTIFY_STATUSES = frozenset({"confirmed", "shipped", "delivered", "cancelled"})
# Items can be changed until the order is shipped.
EDITABLE_STATUSES = frozenset({"pending", "confirmed", "processing"})


def allowed_next(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


def check_transition(current: str, target: str) -> None:
    """Raise OrderError (422 for an unknown status, 409 for a refused move) unless allowed."""
    if target not in STATUSES:
        raise OrderError(
            Text(
                "unknown status {status}: it must be one of {statuses}",
                status=repr(target),
                statuses=[order_status_text(s) for s in STATUSES],
            )
        )
    allowed = allowed_next(current)
    if target not in allowed:
        nxt = [order_status_text(s) for s in allowed] if allowed else Text("none (it is final)")
        raise OrderError(
            Text(
                "an order cannot go from {current} to {target}; allowed from {current}: {allowed}",
                current=order_status_text(current),
                target=order_status_text(target),
                allowed=nxt,
            ),
            status=409,
        )
