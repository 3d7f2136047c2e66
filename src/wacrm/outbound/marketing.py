"""Marketing sends and the customer's marketing opt-out (reach's `opted_in`, issue 19 item 2).

A marketing send is part of a broadcast (`bulk`) or a template of category MARKETING. A customer
whose `opted_in` is false (a STOP word, an import, an agent, or WhatsApp's own "stop marketing
messages", field `user_preferences`) gets none of them; replies and utility templates still go.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from wacrm.i18n.text import Text
from wacrm.outbound.schemas import OutboundContent, TemplateContent


class MarketingOptOutError(Exception):
    """A marketing send to a customer who stopped marketing messages."""

    status = 409

    def __init__(self, customer_id: int, since: datetime | None, source: str | None) -> None:
        how = f" ({source})" if source else ""
        rest = Text(
            "broadcasts and marketing templates are not sent to them; replies and utility"
            " templates still are"
        )
        self.text = (
            Text(
                "customer {id} stopped marketing messages on {day}{how}: {rest}",
                id=customer_id,
                day=since.date().isoformat(),
                how=how,
                rest=rest,
            )
            if since
            else Text(
                "customer {id} stopped marketing messages{how}: {rest}",
                id=customer_id,
                how=how,
                rest=rest,
            )
        )
        super().__init__(self.text)


async def is_marketing(
    conn: AsyncConnection[Any], *, agent_id: int, content: OutboundContent, bulk: bool
) -> bool:
    """Whether this send is marketing: a broadcast's, or a template Meta files as MARKETING."""
    if bulk:
        return True
    if not isinstance(content, TemplateContent):
        return False
    cur = await conn.execute(
        """SELECT upper(coalesce(t.category, '')) = 'MARKETING' AS marketing
           FROM whatsapp_templates t
           JOIN whatsapp_configuration w ON w.id = t.config_id
           JOIN agents a ON a.user_id = w.user_id
           WHERE a.id = %s AND t.name = %s AND t.language = %s
           ORDER BY w.is_active DESC LIMIT 1""",
        (agent_id, content.name, content.language),
    )
    row = await cur.fetchone()
    return bool(row and row["marketing"])


async def refuse_if_opted_out(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    customer: dict[str, Any],
    content: OutboundContent,
    bulk: bool,
) -> None:
    """MarketingOptOutError for a marketing send to a customer who opted out."""
    if customer.get("opted_in") is not False:
        return
    if await is_marketing(conn, agent_id=agent_id, content=content, bulk=bulk):
        raise MarketingOptOutError(
            customer["id"], customer.get("opt_in_changed_at"), customer.get("opt_in_source")
        )
