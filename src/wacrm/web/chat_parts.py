"""What the chat page's parts show (thread bubbles, the customer panel) and the form values its
handlers turn into messages and order lines; the routes are `wacrm.web.chat`."""

from __future__ import annotations

import re
from typing import Any

from fastapi import UploadFile
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope
from wacrm.contacts import service as contacts
from wacrm.conversations.service import ConversationNotFoundError
from wacrm.customers import service as customers
from wacrm.i18n import gettext as _
from wacrm.i18n import validation
from wacrm.i18n.text import Text
from wacrm.orders import money
from wacrm.orders import queries as order_queries
from wacrm.orders import service as orders
from wacrm.outbound import errors as send_errors
from wacrm.outbound import media as outbound_media
from wacrm.outbound import service as outbound
from wacrm.outbound.schemas import MediaContent

MEDIA_KINDS = {"image/": "image", "video/": "video", "audio/": "audio"}


def chronological(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The service pages newest first; the thread shows oldest first."""
    return list(reversed(items))


def version(m: dict[str, Any]) -> str:
    """What may change on a shown message (a changed bubble is re-rendered)."""
    media = m["media"] or {}
    return "|".join(
        str(x)
        for x in (
            m["status"],
            m["reaction"],
            m["agent_reaction"],
            media.get("status"),
            m["error"] and m["error"]["code"],
            m.get("edited_at"),
            m.get("deleted"),
        )
    )


_OURS_FIRST = re.compile(r"^.*?\(Meta error \d+\)\.?\s*", re.S)


def meta_words(error: dict[str, Any] | None) -> str:
    """What Meta itself said about a failure, without our own explanation (older rows stored it
    in front of Meta's words), so that a bubble says each thing once."""
    if not error:
        return ""
    words = (error.get("details") or error.get("title") or "").strip()
    if error.get("code") is not None:
        # older rows: "<our explanation> (Meta error 190). <Meta's words>"
        words = _OURS_FIRST.sub("", words, count=1).strip()
        if words == send_errors.from_code(error["code"]).summary:
            return ""
    return words


THREAD: dict[str, Any] = {
    "version": version,
    "explain": send_errors.explain,
    "meta_words": meta_words,
}


async def panel_context(
    conn: AsyncConnection[Any], scope: AgentScope, customer_id: int, **extra: Any
) -> dict[str, Any]:
    customer = await customers.get_customer(conn, tables=scope.tables, customer_id=customer_id)
    if customer is None:
        raise ConversationNotFoundError(customer_id)
    count = await conn.execute(
        scope.tables.query(
            'SELECT count(*) AS n, min("timestamp") AS first FROM {messages} WHERE customer_id = %s'
        ),
        (customer_id,),
    )
    stats = await count.fetchone()
    listed = await order_queries.list_orders(
        conn, tables=scope.tables, customer_id=customer_id, limit=20
    )
    context = {
        "customer": customer,
        "stats": stats,
        "orders": listed["items"],
        "panel_error": None,
        "panel_form": None,
        "currency": await orders.default_currency(conn, agent_id=scope.agent_id),
        "opt_in": await contacts.opt_in_of(conn, tables=scope.tables, customer_id=customer_id),
    }
    context.update(extra)
    return context


def _kind_of(mime: str) -> str:
    for prefix, kind in MEDIA_KINDS.items():
        if mime.startswith(prefix):
            return kind
    return "document"


SENDABLE = Text(
    "an image (JPEG, PNG), a video (MP4, 3GP), audio, a PDF, an Office document or a text file"
)


async def media_content(
    conn: AsyncConnection[Any], scope: AgentScope, file: UploadFile, caption: str, reply: int | None
) -> MediaContent:
    """Store an attachment for sending; a type WhatsApp refuses says which types it takes."""
    data = await file.read()
    mime = file.content_type or "application/octet-stream"
    try:
        stored = await outbound_media.store(
            conn,
            agent_id=scope.agent_id,
            kind=_kind_of(mime),
            filename=file.filename or "file",
            mime_type=mime,
            data=data,
            uploaded_by=scope.user.id,
        )
    except outbound.OutboundError as exc:
        if exc.status == 415:
            raise outbound.OutboundError(
                Text(
                    "WhatsApp cannot send {filename} ({mime}); attach {kinds}. ({why})",
                    filename=file.filename,
                    mime=mime,
                    kinds=SENDABLE,
                    why=exc,
                ),
                415,
            ) from exc
        raise
    return MediaContent(
        type=stored["kind"], media_id=stored["id"], caption=caption.strip() or None, reply_to=reply
    )


def first_error(exc: ValueError) -> str:
    """A ValueError's message for the page (pydantic's first error in the viewer's language)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        text = validation.message(first)
        return f"{where}: {text}" if where else str(text)
    return str(exc)


def order_lines(names: list[str], quantities: list[str], prices: list[str]) -> list[dict[str, Any]]:
    """Form lines to order items; the orders service checks names, quantities and prices."""
    items = []
    for i, name in enumerate(names):
        if not name.strip():
            continue
        qty = (quantities[i] if i < len(quantities) else "1").strip()
        price = (prices[i] if i < len(prices) else "").strip()
        items.append(
            {
                "name": name,
                "quantity": int(qty) if qty.isdigit() else qty,
                "price": money.form_price(price),
            }
        )
    if not items:
        raise ValueError(_("an order needs at least one item with a name, quantity and price"))
    return items
