"""A workspace's labels (name and colour), put on conversations (wacrm.conversations.state)."""

from __future__ import annotations

import re
from typing import Any

from psycopg import AsyncConnection, errors

from wacrm.errors import FieldError
from wacrm.i18n.text import Text

Conn = AsyncConnection[Any]
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
COLOR = re.compile(r"^#[0-9a-f]{6}$")
COLUMNS = "id, name, color, description, created_at"


class LabelError(FieldError, ValueError):
    """A label that cannot be made or changed as asked; `field` is the input at fault."""

    field: str  # always given


def clean_name(name: str) -> str:
    value = name.strip().lower()
    if not NAME.fullmatch(value):
        raise LabelError(
            Text(
                "a label name is 1-40 letters, digits, '-' or '_' (starting with a letter or digit)"
            ),
            field="name",
        )
    return value


def clean_color(color: str) -> str:
    value = color.strip().lower()
    if not COLOR.fullmatch(value):
        raise LabelError(Text("a colour is #rrggbb, e.g. #1f93ff"), field="color")
    return value


async def list_labels(conn: Conn, *, agent_id: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f'SELECT {COLUMNS} FROM workspace_labels WHERE agent_id = %s ORDER BY name COLLATE "C"',
        (agent_id,),
    )
    return [dict(r) for r in await cur.fetchall()]


async def create_label(
    conn: Conn, *, agent_id: int, name: str, color: str, description: str | None = None
) -> dict[str, Any]:
    try:
        cur = await conn.execute(
            f"""INSERT INTO workspace_labels (agent_id, name, color, description)
                VALUES (%s, %s, %s, %s) RETURNING {COLUMNS}""",
            (agent_id, clean_name(name), clean_color(color), description or None),
        )
    except errors.UniqueViolation as exc:
        raise LabelError(
            Text("this workspace has a label {name} already", name=repr(clean_name(name))),
            field="name",
            status=409,
        ) from exc
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def update_label(
    conn: Conn,
    *,
    agent_id: int,
    label_id: int,
    name: str | None = None,
    color: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    try:
        cur = await conn.execute(
            f"""UPDATE workspace_labels SET name = coalesce(%s, name), color = coalesce(%s, color),
                       description = coalesce(%s, description)
                WHERE agent_id = %s AND id = %s RETURNING {COLUMNS}""",
            (
                clean_name(name) if name is not None else None,
                clean_color(color) if color is not None else None,
                description,
                agent_id,
                label_id,
            ),
        )
    except errors.UniqueViolation as exc:
        raise LabelError(
            Text("this workspace has a label of that name already"), field="name", status=409
        ) from exc
    row = await cur.fetchone()
    if row is None:
        raise LabelError(
            Text("no label with id {id} in this workspace", id=label_id), field="id", status=404
        )
    return dict(row)


async def delete_label(conn: Conn, *, agent_id: int, label_id: int) -> None:
    """Delete a label (it leaves every conversation that had it)."""
    cur = await conn.execute(
        "DELETE FROM workspace_labels WHERE agent_id = %s AND id = %s RETURNING id",
        (agent_id, label_id),
    )
    if await cur.fetchone() is None:
        raise LabelError(
            Text("no label with id {id} in this workspace", id=label_id), field="id", status=404
        )
