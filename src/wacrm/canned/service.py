"""Canned responses: a workspace's saved answers with variables, filled in for one conversation."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, errors

from wacrm.agents.tables import AgentTables
from wacrm.errors import AppError
from wacrm.i18n.text import Text
from wacrm.orders.money import format_amount

Conn = AsyncConnection[Any]
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
WRITTEN = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")  # anything written as a variable
VARIABLES = (
    "customer.name",
    "customer.phone",
    "order.number",
    "order.status",
    "order.total",
    "agent.name",
)
MAX_BODY = 4096
COLUMNS = "id, shortcut, body, created_by, created_at, updated_at"


class CannedError(AppError, ValueError):
    """A canned response that cannot be made, changed or filled in (422 unless said otherwise);
    the message starts with the field at fault, which `field` names."""

    status = 422


def _shortcut(value: str) -> str:
    text = value.strip().lstrip("/").lower()
    if not SHORTCUT.fullmatch(text):
        raise CannedError(
            Text("shortcut: 1-40 letters, digits, '-' or '_' (starting with a letter or digit)"),
            field="shortcut",
        )
    return text


def _body(value: str) -> str:
    if not value.strip():
        raise CannedError(Text("body: a canned response needs some text"), field="body")
    if len(value) > MAX_BODY:
        raise CannedError(
            Text(
                "body: at most {max} characters (this one {length})",
                max=MAX_BODY,
                length=len(value),
            ),
            field="body",
        )
    unknown = sorted({v for v in WRITTEN.findall(value) if v not in VARIABLES})
    if unknown:
        raise CannedError(
            Text(
                "body: unknown variable(s) {unknown}; known: {known}",
                unknown=unknown,
                known=["{{" + v + "}}" for v in VARIABLES],
            ),
            field="body",
        )
    return value


async def list_canned(conn: Conn, *, agent_id: int, q: str | None = None) -> list[dict[str, Any]]:
    """The workspace's canned responses by shortcut; `q` matches a shortcut prefix or body words."""
    like = None
    if q and q.strip():
        like = (
            q.strip()
            .lstrip("/")
            .lower()
            .replace("\\", "\\\\")
            .replace("%", "\\%")
            .replace("_", "\\_")
        )
    cur = await conn.execute(
        f"""SELECT {COLUMNS} FROM canned_responses WHERE agent_id = %(a)s
            AND (%(like)s::text IS NULL OR shortcut LIKE %(like)s || '%%'
                 OR lower(body) LIKE '%%' || %(like)s || '%%')
            ORDER BY shortcut LIKE %(like)s || '%%' DESC, shortcut COLLATE "C" LIMIT 200""",
        {"a": agent_id, "like": like},
    )
    return [dict(r) for r in await cur.fetchall()]


async def create_canned(
    conn: Conn, *, agent_id: int, shortcut: str, body: str, created_by: UUID | None
) -> dict[str, Any]:
    try:
        cur = await conn.execute(
            f"""INSERT INTO canned_responses (agent_id, shortcut, body, created_by)
                VALUES (%s, %s, %s, %s) RETURNING {COLUMNS}""",
            (agent_id, _shortcut(shortcut), _body(body), created_by),
        )
    except errors.UniqueViolation as exc:
        raise CannedError(
            Text("shortcut: /{shortcut} exists already", shortcut=_shortcut(shortcut)),
            status=409,
            field="shortcut",
        ) from exc
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def get_canned(conn: Conn, *, agent_id: int, canned_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM canned_responses WHERE agent_id = %s AND id = %s",
        (agent_id, canned_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise CannedError(
            Text("no canned response with id {id} in this workspace", id=canned_id), status=404
        )
    return dict(row)


async def update_canned(
    conn: Conn,
    *,
    agent_id: int,
    canned_id: int,
    shortcut: str | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    try:
        cur = await conn.execute(
            f"""UPDATE canned_responses SET shortcut = coalesce(%s, shortcut),
                       body = coalesce(%s, body), updated_at = now()
                WHERE agent_id = %s AND id = %s RETURNING {COLUMNS}""",
            (
                _shortcut(shortcut) if shortcut is not None else None,
                _body(body) if body is not None else None,
                agent_id,
                canned_id,
            ),
        )
    except errors.UniqueViolation as exc:
        raise CannedError(
            Text("shortcut: another canned response has it"), status=409, field="shortcut"
        ) from exc
    row = await cur.fetchone()
    if row is None:
        raise CannedError(
            Text("no canned response with id {id} in this workspace", id=canned_id), status=404
        )
    return dict(row)


async def delete_canned(conn: Conn, *, agent_id: int, canned_id: int) -> None:
    cur = await conn.execute(
        "DELETE FROM canned_responses WHERE agent_id = %s AND id = %s RETURNING id",
        (agent_id, canned_id),
    )
    if await cur.fetchone() is None:
        raise CannedError(
            Text("no canned response with id {id} in this workspace", id=canned_id), status=404
        )


_VALUES_SQL = """
SELECT c.name, c.phone, o.id AS order_id, o.status AS order_status, o.total_amount, o.currency
FROM {customers} c
LEFT JOIN LATERAL (SELECT id, status, total_amount, currency FROM {orders}
                   WHERE customer_id = c.id ORDER BY created_at DESC, id DESC LIMIT 1) o ON true
WHERE c.id = %s
"""


async def variables(
    conn: Conn, *, tables: AgentTables, customer_id: int, agent_name: str
) -> dict[str, str]:
    """The values of every variable for one conversation ('' where there is none)."""
    cur = await conn.execute(tables.query(_VALUES_SQL), (customer_id,))
    row = await cur.fetchone()
    if row is None:
        raise CannedError(
            Text("no customer with id {id} in this workspace", id=customer_id), status=404
        )
    total = ""
    if row["order_id"] is not None:
        amount = format_amount(row["total_amount"], row["currency"])
        total = f"{amount} {row['currency']}" if amount is not None else ""
    return {
        "customer.name": row["name"] or "",
        "customer.phone": row["phone"] or "",
        "order.number": str(row["order_id"]) if row["order_id"] is not None else "",
        "order.status": row["order_status"] or "",
        "order.total": total,
        "agent.name": agent_name,
    }


def fill(body: str, values: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), body)
