"""Inbox (conversations by last activity), chat pages and mark-read; search is `search.py`."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.conversations import cursors
from wacrm.conversations.filters import (
    CUSTOMERS,
    TeamFilter,
    Walk,
    team_columns,
    team_select,
    team_where,
    walk_of,
)
from wacrm.conversations.previews import chat_message, preview
from wacrm.conversations.search import Search, search_condition
from wacrm.conversations.search import match_ids as find_matches
from wacrm.errors import NotFoundError
from wacrm.i18n import gettext as _
from wacrm.i18n.text import Text
from wacrm.realtime import events as realtime

WINDOW = timedelta(hours=24)
MAX_PAGE = 100
NOT_REACTION = "m.media_type <> 'reaction' AND m.wa_type IS DISTINCT FROM 'reaction'"
_MESSAGE_COLUMNS = (
    'm.id, m.customer_id, m.message, m.direction, m."timestamp", m.is_read, m.media_type, '
    "m.media_url, m.caption, m.wamid, m.wa_type, m.status, m.status_at, m.error_code, "
    "m.error_title, m.error_details, m.context_wamid, m.reaction, m.agent_reaction, m.order_id, "
    "m.media_mime_type, m.media_size, m.media_filename, m.media_status, m.media_error, m.raw, "
    "m.payload, m.sent_by, m.edited_at, m.deleted_at, m.origin"
)


class ConversationNotFoundError(NotFoundError):
    """No customer with this id in the agent's tables."""

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"no conversation with customer {customer_id} for this agent")
        self.customer_id = customer_id

    @property
    def page_detail(self) -> str:
        return _("no conversation with customer %(id)s in this workspace") % {
            "id": self.customer_id
        }


def window_state(last_inbound_at: datetime | None, now: datetime) -> dict[str, Any]:
    """The 24-hour customer-service window: open until last_inbound_at + 24 h."""
    if last_inbound_at is None:
        return {"state": "closed", "closes_at": None}
    closes = last_inbound_at + WINDOW
    return {"state": "open" if closes > now else "closed", "closes_at": closes}


def _conversation(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    last = None
    if row["m_id"] is not None:
        msg = {k[2:]: v for k, v in row.items() if k.startswith("m_")}
        last = {
            "id": msg["id"],
            "preview": preview(msg),
            "direction": msg["direction"],
            "status": msg["status"],
            "timestamp": msg["timestamp"],
            "type": msg["wa_type"]
            or ("text" if msg["media_type"] == "none" else msg["media_type"]),
        }
    return {
        "customer_id": row["id"],
        "name": row["name"],
        "profile_name": row["profile_name"],
        "name_by_agent": bool(row["name_by_agent"]),
        "phone": row["phone"],
        "username": row["username"],
        "profile_image_url": row["profile_image_url"],
        "last_message_at": row["last_message_at"],
        "last_message": last,
        "unread_count": row["unread_count"],
        "window": window_state(row["last_inbound_at"], now),
        "has_open_order": row["has_open_order"],
        **team_columns(row),
    }


# has_open_order is a scalar subquery, not EXISTS: PostgreSQL may run an EXISTS as one hashed
# pass over every open order of the agent; a scalar subquery is one probe of the open orders'
# index per row shown.
_INBOX_SQL = """
SELECT c.id, c.name, c.profile_name, c.name_by_agent, c.phone, c.username, c.profile_image_url,
       c.last_message_at,
       c.last_inbound_at, c.unread_count, now() AS db_now, {team_columns},
       (SELECT true FROM {orders} o WHERE o.customer_id = c.id
        AND o.status NOT IN ('delivered', 'cancelled') LIMIT 1) IS NOT NULL AS has_open_order,
       lm.id AS m_id, lm.direction AS m_direction, lm.status AS m_status, lm.message AS m_message,
       lm.caption AS m_caption, lm.media_type AS m_media_type, lm.wa_type AS m_wa_type,
       lm."timestamp" AS m_timestamp, lm.media_filename AS m_media_filename,
       lm.media_mime_type AS m_media_mime_type, lm.raw AS m_raw, lm.payload AS m_payload,
       lm.deleted_at AS m_deleted_at,
       CASE WHEN lm.order_id IS NOT NULL THEN
         (SELECT sum(i.quantity) FROM {orders_items} i WHERE i.order_id = lm.order_id) END
         AS m_order_items
FROM (SELECT c.* FROM {walk} WHERE {where}
      ORDER BY {order} LIMIT %(limit)s) c
LEFT JOIN LATERAL (
  (SELECT m.* FROM {messages} m WHERE m.id = c.last_message_id AND {not_reaction})
  UNION ALL
  (SELECT m.* FROM {messages} m WHERE m.customer_id = c.id AND {not_reaction}
   ORDER BY m."timestamp" DESC, m.id DESC LIMIT 1)
  LIMIT 1
) lm ON true
ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC
"""


def _filters(
    tables: AgentTables,
    *,
    unread: bool,
    has_open_order: bool,
    search: Search | None,
    match_ids: list[int] | None,
    params: dict[str, Any],
) -> list[sql.Composable]:
    where: list[sql.Composable] = []
    if unread:
        where.append(sql.SQL("c.unread_count > 0"))
    if has_open_order:  # driven by the open orders' partial index, not a walk of all customers
        where.append(
            tables.query(
                "c.id = ANY (ARRAY(SELECT o.customer_id FROM {orders} o "
                "WHERE o.status NOT IN ('delivered', 'cancelled')))"
            )
        )
    if search is not None and match_ids is not None:
        params["match_ids"] = match_ids
        where.append(sql.SQL("c.id = ANY(%(match_ids)s)"))
    elif search is not None:
        where.append(search_condition(search, params, walked=True))
    return where


async def inbox(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    limit: int = 50,
    cursor: str | None = None,
    unread: bool = False,
    has_open_order: bool = False,
    q: str | None = None,
    team: TeamFilter | None = None,
) -> dict[str, Any]:
    """One page of conversations by last activity: {"items": [...], "next_cursor": str | None}.

    Customers that never had a message come after all others (by id, newest first).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    after_at, after_id = cursors.decode(cursor) if cursor else (None, None)
    search = Search(q.strip()) if q and q.strip() else None
    base: dict[str, Any] = {}
    match_ids = await find_matches(conn, tables, search) if search is not None else None
    filters = _filters(
        tables,
        unread=unread,
        has_open_order=has_open_order,
        search=search,
        match_ids=match_ids,
        params=base,
    )
    walk = walk_of(team, few_matches=match_ids is not None)
    if team is not None:
        filters.extend(team_where(tables, team, base, walk))
    rows: list[dict[str, Any]] = []
    phases = []
    if cursor is None or after_at is not None:
        phases.append("active")
    phases.append("quiet")
    for phase in phases:
        want = limit + 1 - len(rows)
        if want <= 0:
            break
        params = dict(base, limit=want)
        where = [*filters, *_keyset(walk, phase, cursor, after_at, after_id, params)]
        query = tables.query(
            _INBOX_SQL,
            walk=walk.from_clause(tables),
            order=_order(walk),
            where=sql.SQL(" AND ").join(where),
            not_reaction=sql.SQL(NOT_REACTION),
            team_columns=team_select(tables),
        )
        cur = await conn.execute(query, params, prepare=False if search else None)
        rows.extend(await cur.fetchall())
    now = rows[0]["db_now"] if rows else datetime.now(UTC)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = cursors.encode(last["last_message_at"], last["id"])
    return {"items": [_conversation(r, now) for r in page], "next_cursor": next_cursor}


def _order(walk: Walk) -> sql.Composable:
    """The inbox's order on the walked rows (so their index gives it)."""
    return sql.SQL(f"{walk.keys}.last_message_at DESC NULLS LAST, {walk.id} DESC")


def _keyset(
    walk: Walk,
    phase: str,
    cursor: str | None,
    after_at: datetime | None,
    after_id: int | None,
    params: dict[str, Any],
) -> list[sql.Composable]:
    """The phase's rows (with a last activity, then without) after the cursor's."""
    at, row_id = f"{walk.keys}.last_message_at", walk.id
    where: list[sql.Composable]
    if phase == "active":
        where = [sql.SQL(f"{at} IS NOT NULL")]
        if after_at is not None:
            where.append(sql.SQL(f"({at}, {row_id}) < (%(after_at)s, %(after_id)s)"))
            params.update(after_at=after_at, after_id=after_id)
        return where
    where = [sql.SQL(f"{at} IS NULL")]
    if cursor is not None and after_at is None:
        where.append(sql.SQL(f"{row_id} < %(after_id)s"))
        params["after_id"] = after_id
    return where


async def conversation(
    conn: AsyncConnection[Any], *, tables: AgentTables, customer_id: int
) -> dict[str, Any]:
    """The inbox entry of one customer (raises ConversationNotFoundError)."""
    query = tables.query(
        _INBOX_SQL,
        walk=CUSTOMERS.from_clause(tables),
        order=_order(CUSTOMERS),
        where=sql.SQL("c.id = %(customer_id)s"),
        not_reaction=sql.SQL(NOT_REACTION),
        team_columns=team_select(tables),
    )
    cur = await conn.execute(query, {"customer_id": customer_id, "limit": 1})
    row = await cur.fetchone()
    if row is None:
        raise ConversationNotFoundError(customer_id)
    return _conversation(row, row["db_now"])


async def _require_customer(
    conn: AsyncConnection[Any], tables: AgentTables, customer_id: int
) -> None:
    cur = await conn.execute(
        tables.query("SELECT 1 FROM {customers} WHERE id = %s"), (customer_id,)
    )
    if await cur.fetchone() is None:
        raise ConversationNotFoundError(customer_id)


_CHAT_SQL = """
SELECT {columns},
       CASE WHEN m.order_id IS NOT NULL THEN
         (SELECT sum(i.quantity) FROM {orders_items} i WHERE i.order_id = m.order_id) END AS order_items,
       to_jsonb(q) AS quoted,
       (SELECT u.name FROM users u WHERE u.id = m.sent_by) AS sent_by_name
FROM {messages} m
LEFT JOIN LATERAL (
  SELECT r.id, r.direction, r.message, r.caption, r.media_type, r.wa_type, r.media_filename,
         r.media_mime_type, r.raw, r.payload, r.order_id
  FROM {messages} r WHERE r.wamid = m.context_wamid LIMIT 1
) q ON m.context_wamid IS NOT NULL
WHERE m.customer_id = %(customer_id)s AND {not_reaction} {keyset}
ORDER BY m."timestamp" DESC, m.id DESC
LIMIT %(limit)s
"""


async def chat(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    customer_id: int,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A customer's messages, newest first: {"items": [...], "next_cursor": str | None} (older page)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    params: dict[str, Any] = {"customer_id": customer_id, "limit": limit + 1}
    keyset = sql.SQL("")
    if cursor:
        before_at, before_id = cursors.decode(cursor)
        if before_at is None:
            raise cursors.InvalidCursorError(Text("the cursor is not valid for a chat page"))
        keyset = sql.SQL('AND (m."timestamp", m.id) < (%(before_at)s, %(before_id)s)')
        params.update(before_at=before_at, before_id=before_id)
    query = tables.query(
        _CHAT_SQL,
        columns=sql.SQL(_MESSAGE_COLUMNS),
        keyset=keyset,
        not_reaction=sql.SQL(NOT_REACTION),
    )
    cur = await conn.execute(query, params)
    rows = await cur.fetchall()
    if not rows:  # an empty page: is it an empty chat or no such customer?
        await _require_customer(conn, tables, customer_id)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors.encode(page[-1]["timestamp"], page[-1]["id"])
    return {
        "items": [chat_message(r, quoted=r["quoted"]) for r in page],
        "next_cursor": next_cursor,
    }


async def mark_read(
    conn: AsyncConnection[Any], *, tables: AgentTables, agent_id: int, customer_id: int
) -> dict[str, Any]:
    """Mark the conversation read (and send WhatsApp's read receipt when outbound offers it)."""
    await _require_customer(conn, tables, customer_id)
    receipt = _read_receipt_function()
    marked = 0
    async with conn.transaction():
        if receipt is not None:  # outbound marks the rows and queues one receipt for the newest
            done = await receipt(conn, tables=tables, agent_id=agent_id, customer_id=customer_id)
            marked = done if isinstance(done, int) else 0
        cur = await conn.execute(
            tables.query(
                "UPDATE {messages} SET is_read = true WHERE customer_id = %s "
                "AND direction = 'inbound' AND is_read IS NOT TRUE"
            ),
            (customer_id,),
        )
        marked += max(cur.rowcount, 0)
        await conn.execute(
            tables.query(
                "UPDATE {customers} SET unread_count = 0 WHERE id = %s AND unread_count <> 0"
            ),
            (customer_id,),
        )
        await realtime.notify(conn, agent_id=agent_id, kind="customer", customer_id=customer_id)
    return {
        "customer_id": customer_id,
        "marked": marked,
        "receipt_queued": receipt is not None and marked > 0,
    }


def _read_receipt_function() -> Any:
    try:
        module = importlib.import_module("wacrm.outbound.service")
    except ImportError:
        return None
    return getattr(module, "queue_read_receipt", None)
