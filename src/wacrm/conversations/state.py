"""A conversation's team state: status (snoozes), assignee, labels, and the events recording them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.conversations.service import ConversationNotFoundError
from wacrm.errors import FieldError
from wacrm.i18n.text import Text
from wacrm.members import service as members
from wacrm.realtime import events as realtime

Conn = AsyncConnection[Any]
STATUSES = ("open", "pending", "snoozed", "resolved")
UNSET: Any = object()


class StateError(FieldError, ValueError):
    """A change that cannot be made (422 unless said otherwise); `field` is the input at fault."""

    field: str  # always given


_STATE_SQL = """
SELECT c.id, coalesce(c.conversation_status, 'open') AS status, c.snoozed_until, c.assignee_id,
       u.name AS assignee_name,
       ARRAY(SELECT l.name FROM {conversation_labels} cl JOIN workspace_labels l ON l.id = cl.label_id
             WHERE cl.customer_id = c.id ORDER BY l.name COLLATE "C") AS labels
FROM {customers} c LEFT JOIN users u ON u.id = c.assignee_id
WHERE c.id = %s
"""


async def state(conn: Conn, *, tables: AgentTables, customer_id: int) -> dict[str, Any]:
    """status, snoozed_until, assignee_id (and name), labels of one conversation."""
    cur = await conn.execute(tables.query(_STATE_SQL), (customer_id,))
    row = await cur.fetchone()
    if row is None:
        raise ConversationNotFoundError(customer_id)
    return _state_out(row)


def _state_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": row["id"],
        "status": row["status"],
        "snoozed_until": row["snoozed_until"],
        "assignee_id": row["assignee_id"],
        "assignee_name": row["assignee_name"],
        "labels": list(row["labels"]),
    }


async def _label_ids(conn: Conn, agent_id: int, names: list[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(n.strip().lower() for n in names))
    cur = await conn.execute(
        "SELECT name, id FROM workspace_labels WHERE agent_id = %s AND name = ANY(%s)",
        (agent_id, wanted),
    )
    found = {r["name"]: r["id"] for r in await cur.fetchall()}
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise StateError(
            Text(
                "unknown label(s): {unknown}; create them first (GET /api/v1/labels lists them)",
                unknown=unknown,
            ),
            field="labels",
        )
    return found


def _check_status(status: Any, snoozed_until: Any, now: datetime) -> tuple[Any, Any]:
    """The status and snooze time to write (UNSET: unchanged)."""
    if status is UNSET and snoozed_until is None:  # alone, null would change nothing
        raise StateError(
            Text("snoozed_until null goes with a status (snoozed: until the customer writes)"),
            field="snoozed_until",
        )
    if snoozed_until is not UNSET and snoozed_until is not None:
        if snoozed_until.tzinfo is None:
            raise StateError(
                Text("snoozed_until needs a time zone (e.g. 2026-12-24T09:00:00+01:00)"),
                field="snoozed_until",
            )
        if snoozed_until <= now:
            raise StateError(Text("snoozed_until must be in the future"), field="snoozed_until")
        if status is UNSET:
            status = "snoozed"
    if status is not UNSET and status not in STATUSES:
        raise StateError(
            Text("status must be one of {statuses}", statuses=list(STATUSES)), field="status"
        )
    if status not in (UNSET, "snoozed") and snoozed_until not in (UNSET, None):
        raise StateError(
            Text("snoozed_until goes with status 'snoozed' only"), field="snoozed_until"
        )
    if status is not UNSET and status != "snoozed":
        snoozed_until = None
    elif status == "snoozed" and snoozed_until is UNSET:
        snoozed_until = None  # snoozed until the customer writes again
    return status, snoozed_until


async def update(
    conn: Conn,
    *,
    tables: AgentTables,
    agent_id: int,
    customer_id: int,
    actor_id: UUID | None,
    status: Any = UNSET,
    snoozed_until: Any = UNSET,
    assignee_id: Any = UNSET,
    labels: Any = UNSET,
) -> dict[str, Any]:
    """Change any of status/snoozed_until/assignee/labels in one transaction: the row is locked,
    so concurrent changes apply one after the other, each recorded as an event (from → to) at
    the time it was made (clock_timestamp: after the lock, so events order as the changes did)."""
    if all(v is UNSET for v in (status, snoozed_until, assignee_id, labels)):
        raise StateError(
            Text("nothing to change: give status, snoozed_until, assignee_id or labels"),
            field="body",
        )
    async with conn.transaction():
        cur = await conn.execute("SELECT now() AS now")
        clock = await cur.fetchone()
        assert clock is not None
        now = clock["now"]
        status, snoozed_until = _check_status(status, snoozed_until, now)
        if assignee_id not in (UNSET, None) and not await members.is_member(
            conn, agent_id=agent_id, user_id=assignee_id
        ):
            raise StateError(
                Text("user {id} is not a member of this workspace", id=assignee_id),
                field="assignee_id",
            )
        label_ids = await _label_ids(conn, agent_id, labels) if labels is not UNSET else None
        cur = await conn.execute(
            tables.query(_STATE_SQL.replace("WHERE c.id = %s", "WHERE c.id = %s FOR UPDATE OF c")),
            (customer_id,),
        )
        row = await cur.fetchone()
        if row is None:
            raise ConversationNotFoundError(customer_id)
        before = _state_out(row)
        events: list[tuple[str, str | None, str | None]] = []
        if status is not UNSET:
            await _write_status(conn, tables, agent_id, before, status, snoozed_until)
            if status != before["status"]:
                events.append(("status", before["status"], status))
        if assignee_id is not UNSET and assignee_id != before["assignee_id"]:
            await conn.execute(
                tables.query("UPDATE {customers} SET assignee_id = %s WHERE id = %s"),
                (assignee_id, customer_id),
            )
            events.append(("assignee", _text(before["assignee_id"]), _text(assignee_id)))
        if label_ids is not None and sorted(label_ids) != before["labels"]:
            await _write_labels(conn, tables, customer_id, list(label_ids.values()))
            events.append(("labels", ",".join(before["labels"]), ",".join(sorted(label_ids))))
        for kind, old, new in events:
            await conn.execute(
                tables.query(
                    "INSERT INTO {conversation_events} (customer_id, actor_id, kind, from_value,"
                    " to_value, created_at) VALUES (%s, %s, %s, %s, %s, clock_timestamp())"
                ),
                (customer_id, actor_id, kind, old, new),
            )
        await realtime.notify(conn, agent_id=agent_id, kind="conversation", customer_id=customer_id)
        return await state(conn, tables=tables, customer_id=customer_id)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


async def _write_status(
    conn: Conn,
    tables: AgentTables,
    agent_id: int,
    before: dict[str, Any],
    status: str,
    snoozed_until: datetime | None,
) -> None:
    customer_id = before["customer_id"]
    await conn.execute(
        tables.query(
            "UPDATE {customers} SET conversation_status = %s, snoozed_until = %s WHERE id = %s"
        ),
        (status, snoozed_until, customer_id),
    )
    if status == "snoozed" and snoozed_until is not None:
        await conn.execute(
            """INSERT INTO conversation_snoozes (agent_id, customer_id, snoozed_until)
               VALUES (%s, %s, %s) ON CONFLICT (agent_id, customer_id)
               DO UPDATE SET snoozed_until = EXCLUDED.snoozed_until""",
            (agent_id, customer_id, snoozed_until),
        )
    elif before["status"] == "snoozed":
        await conn.execute(
            "DELETE FROM conversation_snoozes WHERE agent_id = %s AND customer_id = %s",
            (agent_id, customer_id),
        )


async def _write_labels(
    conn: Conn, tables: AgentTables, customer_id: int, label_ids: list[int]
) -> None:
    await conn.execute(
        tables.query(
            "DELETE FROM {conversation_labels} WHERE customer_id = %s AND NOT label_id = ANY(%s)"
        ),
        (customer_id, label_ids),
    )
    await conn.execute(
        tables.query(
            "INSERT INTO {conversation_labels} (customer_id, label_id)"
            " SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING"
        ),
        (customer_id, label_ids),
    )


_EVENTS_SQL = """
SELECT e.id, e.kind, e.from_value, e.to_value, e.created_at, e.actor_id, a.name AS actor_name,
       fu.name AS from_name, tu.name AS to_name
FROM {conversation_events} e
LEFT JOIN users a ON a.id = e.actor_id
LEFT JOIN users fu ON e.kind = 'assignee' AND fu.id::text = e.from_value
LEFT JOIN users tu ON e.kind = 'assignee' AND tu.id::text = e.to_value
WHERE e.customer_id = %(c)s AND e.created_at >= %(since)s AND e.created_at <= %(until)s
ORDER BY e.created_at, e.id
LIMIT 500
"""


async def events(
    conn: Conn,
    *,
    tables: AgentTables,
    customer_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The conversation's events, oldest first (who, when, from → to; names for assignees)."""
    params = {
        "c": customer_id,
        "since": since or datetime(1970, 1, 1).astimezone(),
        "until": until or datetime(9999, 1, 1).astimezone(),
    }
    cur = await conn.execute(tables.query(_EVENTS_SQL), params)
    out = []
    for r in await cur.fetchall():
        out.append(
            {
                "id": r["id"],
                "kind": r["kind"],
                "from": r["from_value"],
                "to": r["to_value"],
                "from_name": r["from_name"],
                "to_name": r["to_name"],
                "actor_id": r["actor_id"],
                "actor_name": r["actor_name"],
                "created_at": r["created_at"],
            }
        )
    return out
