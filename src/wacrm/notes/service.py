"""Private notes on a conversation: for the team only, never sent to WhatsApp, with @mentions."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.conversations.service import ConversationNotFoundError
from wacrm.errors import AppError
from wacrm.i18n.text import Text
from wacrm.members import service as members
from wacrm.realtime import events as realtime

Conn = AsyncConnection[Any]
MAX_LENGTH = 4000
_MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)", re.UNICODE)
_COLUMNS = """n.id, n.customer_id, n.author_id, a.name AS author_name, n.body, n.mentions,
  n.created_at, n.updated_at,
  ARRAY(SELECT u.name FROM unnest(n.mentions) m(id) JOIN users u ON u.id = m.id ORDER BY u.name)
    AS mentioned_names"""


class NoteError(AppError, ValueError):
    """A note that cannot be written or changed as asked (422 unless said otherwise)."""

    status = 422


def _clean(body: str) -> str:
    text = body.strip()
    if not text:
        raise NoteError(Text("body: a note needs some text"))
    if len(text) > MAX_LENGTH:
        raise NoteError(
            Text(
                "body: a note is at most {max} characters (this one {length})",
                max=MAX_LENGTH,
                length=len(text),
            )
        )
    return text


async def _mentions(
    conn: Conn, agent_id: int, body: str, explicit: list[UUID] | None
) -> list[UUID]:
    """Members named in the text (@email, @local-part of the email, @first name) or given."""
    team = await members.list_members(conn, agent_id=agent_id)
    names: dict[str, UUID] = {}
    for m in team:
        names[m["email"].lower()] = m["user_id"]
        names.setdefault(m["email"].split("@")[0].lower(), m["user_id"])
        if m["name"]:
            names.setdefault(m["name"].split()[0].lower(), m["user_id"])
    found = [names[t.lower()] for t in _MENTION.findall(body) if t.lower() in names]
    ids = {m["user_id"] for m in team}
    for user_id in explicit or []:
        if user_id not in ids:
            raise NoteError(
                Text("mentions: user {id} is not a member of this workspace", id=user_id)
            )
        found.append(user_id)
    return list(dict.fromkeys(found))


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "mentions": list(row["mentions"]),
        "mentioned_names": list(row["mentioned_names"]),
    }


async def _require_customer(conn: Conn, tables: AgentTables, customer_id: int) -> None:
    cur = await conn.execute(
        tables.query("SELECT 1 FROM {customers} WHERE id = %s"), (customer_id,)
    )
    if await cur.fetchone() is None:
        raise ConversationNotFoundError(customer_id)


async def add_note(
    conn: Conn,
    *,
    tables: AgentTables,
    agent_id: int,
    customer_id: int,
    author_id: UUID,
    body: str,
    mentions: list[UUID] | None = None,
) -> dict[str, Any]:
    text = _clean(body)
    async with conn.transaction():
        await _require_customer(conn, tables, customer_id)
        mentioned = await _mentions(conn, agent_id, text, mentions)
        cur = await conn.execute(
            tables.query(
                "INSERT INTO {notes} (customer_id, author_id, body, mentions)"
                " VALUES (%s, %s, %s, %s::uuid[]) RETURNING id"
            ),
            (customer_id, author_id, text, mentioned),
        )
        row = await cur.fetchone()
        assert row is not None
        await realtime.notify(conn, agent_id=agent_id, kind="conversation", customer_id=customer_id)
        return await get_note(conn, tables=tables, customer_id=customer_id, note_id=row["id"])


async def get_note(
    conn: Conn, *, tables: AgentTables, customer_id: int, note_id: int
) -> dict[str, Any]:
    cur = await conn.execute(
        tables.query(
            f"SELECT {_COLUMNS} FROM {{notes}} n LEFT JOIN users a ON a.id = n.author_id"
            " WHERE n.id = %s AND n.customer_id = %s"
        ),
        (note_id, customer_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NoteError(Text("no note {id} in this conversation", id=note_id), status=404)
    return _out(row)


async def list_notes(
    conn: Conn, *, tables: AgentTables, customer_id: int, since: Any = None, until: Any = None
) -> list[dict[str, Any]]:
    """The conversation's notes, oldest first (optionally within [since, until])."""
    await _require_customer(conn, tables, customer_id)
    cur = await conn.execute(
        tables.query(
            f"SELECT {_COLUMNS} FROM {{notes}} n LEFT JOIN users a ON a.id = n.author_id"
            " WHERE n.customer_id = %(c)s AND (%(since)s::timestamptz IS NULL OR n.created_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR n.created_at <= %(until)s)"
            " ORDER BY n.created_at, n.id LIMIT 1000"
        ),
        {"c": customer_id, "since": since, "until": until},
    )
    return [_out(r) for r in await cur.fetchall()]


async def _own(
    conn: Conn, tables: AgentTables, customer_id: int, note_id: int, user_id: UUID
) -> dict[str, Any]:
    note = await get_note(conn, tables=tables, customer_id=customer_id, note_id=note_id)
    if note["author_id"] != user_id:
        raise NoteError(Text("only the note's author may change or delete it"), status=403)
    return note


async def edit_note(
    conn: Conn,
    *,
    tables: AgentTables,
    agent_id: int,
    customer_id: int,
    note_id: int,
    user_id: UUID,
    body: str,
    mentions: list[UUID] | None = None,
) -> dict[str, Any]:
    """New text; the members it names, and those given (else the ones given before) mentioned."""
    text = _clean(body)
    async with conn.transaction():
        note = await _own(conn, tables, customer_id, note_id, user_id)
        if mentions is None:  # keep the mentions given besides the text's @names
            named = set(await _mentions(conn, agent_id, note["body"], None))
            team = {m["user_id"] for m in await members.list_members(conn, agent_id=agent_id)}
            mentions = [m for m in note["mentions"] if m not in named and m in team]
        mentioned = await _mentions(conn, agent_id, text, mentions)
        await conn.execute(
            tables.query(
                "UPDATE {notes} SET body = %s, mentions = %s::uuid[], updated_at = now() WHERE id = %s"
            ),
            (text, mentioned, note_id),
        )
        await realtime.notify(conn, agent_id=agent_id, kind="conversation", customer_id=customer_id)
    return await get_note(conn, tables=tables, customer_id=customer_id, note_id=note_id)


async def delete_note(
    conn: Conn, *, tables: AgentTables, agent_id: int, customer_id: int, note_id: int, user_id: UUID
) -> None:
    async with conn.transaction():
        await _own(conn, tables, customer_id, note_id, user_id)
        await conn.execute(tables.query("DELETE FROM {notes} WHERE id = %s"), (note_id,))
        await realtime.notify(conn, agent_id=agent_id, kind="conversation", customer_id=customer_id)
