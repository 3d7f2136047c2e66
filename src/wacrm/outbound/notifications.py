"""Telling a customer that their order's status changed (free-form in the window, a template outside)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from wacrm.agents.tables import AgentTables
from wacrm.i18n import DEFAULT_LANGUAGE, format_money, gettext, in_language, labels
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text
from wacrm.outbound import service, template_text
from wacrm.outbound.schemas import TemplateContent, TextContent

DEFAULTS = {
    "text_template": "Your order #{order_id} is now {status}.",
    "template_name": "order_update",
    "template_language": "en_US",
}
# What a status message may say: the order's number, its new status (in the workspace's language),
# the customer's name and the order's total with its currency.
VARIABLES = ("order_id", "status", "customer_name", "total")
# The default sentence per status, translated into the workspace's language when sent.
DEFAULT_TEXTS = {
    "confirmed": N_("Hello {customer_name}, your order #{order_id} is confirmed. Total: {total}."),
    "processing": N_("Your order #{order_id} is being prepared."),
    "shipped": N_("Good news, {customer_name}: your order #{order_id} is on its way."),
    "delivered": N_("Your order #{order_id} was delivered. Thank you!"),
    "cancelled": N_("Your order #{order_id} was cancelled. Write to us if you have any questions."),
}


def check_text(text: str) -> None:
    """Refuse a message that uses anything but the known {variables} (OutboundError says which)."""
    try:
        text.format(**dict.fromkeys(VARIABLES, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        raise service.OutboundError(
            Text(
                "the text may only use {variables} (and {{{{ }}}} for a brace): {problem}",
                variables=["{" + v + "}" for v in VARIABLES],
                problem=exc,
            )
        ) from exc


async def get_settings(conn: AsyncConnection[Any], *, agent_id: int) -> dict[str, Any]:
    """The workspace's notification settings: template, language, currency, per-status texts."""
    cur = await conn.execute(
        """SELECT s.text_template, s.template_name, s.template_language, s.status_texts,
                  a.language, a.default_currency, a.notify_order_status
           FROM agents a LEFT JOIN order_notification_settings s ON s.agent_id = a.id
           WHERE a.id = %s""",
        (agent_id,),
    )
    row = await cur.fetchone()
    out: dict[str, Any] = {**DEFAULTS, "status_texts": {}, "language": None}
    if row is None:
        return out
    for key in ("text_template", "template_name", "template_language", "status_texts"):
        if row[key] is not None:
            out[key] = row[key]
    out.update(
        language=row["language"],
        default_currency=str(row["default_currency"] or "USD").strip(),
        notify_order_status=row["notify_order_status"],
    )
    return out


async def save_settings(
    conn: AsyncConnection[Any], *, agent_id: int, **values: Any
) -> dict[str, Any]:
    """Change the workspace's notification settings; fields left None keep their value.

    `status_texts` maps a status to its text ('' goes back to the default sentence); `language`
    is the language of the default sentences ('' for English)."""
    merged = {
        **await get_settings(conn, agent_id=agent_id),
        **{k: v for k, v in values.items() if v is not None},
    }
    check_text(merged["text_template"])
    texts = {k: v.strip() for k, v in dict(merged.get("status_texts") or {}).items() if v.strip()}
    for status, text in texts.items():
        if status not in DEFAULT_TEXTS:
            raise service.OutboundError(
                Text("{status} is not a status customers are told about", status=repr(status))
            )
        check_text(text)
    merged["status_texts"] = texts
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO order_notification_settings
                 (agent_id, text_template, template_name, template_language, status_texts)
               VALUES (%(agent_id)s, %(text_template)s, %(template_name)s, %(template_language)s,
                       %(status_texts)s)
               ON CONFLICT (agent_id) DO UPDATE SET text_template = EXCLUDED.text_template,
                 template_name = EXCLUDED.template_name,
                 template_language = EXCLUDED.template_language,
                 status_texts = EXCLUDED.status_texts, updated_at = now()""",
            {**merged, "agent_id": agent_id, "status_texts": Jsonb(texts)},
        )
        if "language" in values or "default_currency" in values or "notify_order_status" in values:
            await conn.execute(
                """UPDATE agents SET language = %s, default_currency = %s,
                     notify_order_status = %s, updated_at = now() WHERE id = %s""",
                (
                    merged.get("language") or None,
                    merged.get("default_currency") or "USD",
                    bool(merged.get("notify_order_status", True)),
                    agent_id,
                ),
            )
    return merged


def status_text(settings: dict[str, Any], status: str) -> str:
    """The text for a status: the workspace's own, else the default sentence in its language."""
    own = (settings.get("status_texts") or {}).get(status)
    if own:
        return str(own)
    if settings["text_template"] != DEFAULTS["text_template"]:  # one text for every status
        return str(settings["text_template"])
    if status in DEFAULT_TEXTS:
        with in_language(settings.get("language") or DEFAULT_LANGUAGE):
            return gettext(DEFAULT_TEXTS[status])
    return str(settings["text_template"])


def render_text(
    settings: dict[str, Any], status: str, *, order_id: int, customer_name: str, total: str
) -> str:
    with in_language(settings.get("language") or DEFAULT_LANGUAGE):
        status_name = labels.order_status(status)
    return status_text(settings, status).format(
        order_id=order_id, status=status_name, customer_name=customer_name, total=total
    )


async def notify_order_status(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    agent_id: int,
    order_id: int,
    status: str,
    actor_id: UUID | None,
) -> int | None:
    """Queue the status message for the order's customer; its message id, or None when the agent's
    notify_order_status is off. Runs in the caller's transaction when there is one."""
    cur = await conn.execute("SELECT notify_order_status FROM agents WHERE id = %s", (agent_id,))
    agent = await cur.fetchone()
    if agent is None or not agent["notify_order_status"]:
        return None
    cur = await conn.execute(
        tables.query(
            """SELECT o.customer_id, o.total_amount, o.currency, c.name AS customer_name,
                      c.last_inbound_at > now() - interval '24 hours' AS window_open
               FROM {orders} o JOIN {customers} c ON c.id = o.customer_id WHERE o.id = %s"""
        ),
        (order_id,),
    )
    order = await cur.fetchone()
    if order is None:
        raise service.OutboundError(Text("no order {order_id}", order_id=order_id), 404)
    settings = await get_settings(conn, agent_id=agent_id)
    content: TextContent | TemplateContent
    language = settings.get("language") or DEFAULT_LANGUAGE
    with in_language(language):
        total = format_money(order["total_amount"], order["currency"])
        status_name = labels.order_status(status)
    if order["window_open"]:
        content = TextContent(
            body=render_text(
                settings,
                status,
                order_id=order_id,
                customer_name=order["customer_name"] or "",
                total=total,
            )
        )
    else:  # the chosen template's parameters in turn: number, status, name, total
        values = [f"#{order_id}", status_name, order["customer_name"] or "-", total]
        found = await template_text.find(
            conn,
            agent_id=agent_id,
            name=settings["template_name"],
            language=settings["template_language"],
        )
        count = (
            len(template_text.param_labels(template_text.body_text(found["components"])))
            if found
            else 2
        )
        content = TemplateContent(
            name=settings["template_name"],
            language=settings["template_language"],
            body_params=values[:count],
        )
    message = await service.queue_message(
        conn,
        tables=tables,
        agent_id=agent_id,
        customer_id=order["customer_id"],
        content=content,
        sent_by=actor_id,
    )
    await conn.execute(  # an automation (who changed the status is sent_by): not a reply
        tables.query("UPDATE {messages} SET payload = payload || %s::jsonb WHERE id = %s"),
        ('{"automatic": "order_status"}', message["id"]),
    )
    return int(message["id"])
