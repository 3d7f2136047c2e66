"""The inbox's team filters (status, assignee, label, mentions) and the columns they add."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables

STATUS_FILTERS = ("open", "pending", "snoozed", "resolved", "all")
STATUS_EXPR = "coalesce(c.conversation_status, 'open')"


@dataclass(frozen=True)
class TeamFilter:
    """status ('all' for any), assignee ('me', 'none', a user id or None for anyone), a label
    id (already looked up in the workspace), and 'mentioned' (notes that mention `me`)."""

    me: UUID
    status: str = "open"
    assignee: str | None = None
    label_id: int | None = None
    mentioned: bool = False
    label_dense: bool = False  # the label is on many conversations: walk the activity order


class FilterError(ValueError):
    """A filter value the inbox does not know (answered 400 with this sentence)."""


def parse_assignee(value: str | None) -> str | None:
    """'me', 'none', a user id (UUID) or None; anything else is a FilterError."""
    if value is None or value == "" or value == "all":
        return None
    if value in ("me", "none"):
        return value
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise FilterError("assignee must be 'me', 'none' or a user id") from exc


def parse_status(value: str | None) -> str:
    if value is None or value == "":
        return "open"
    if value not in STATUS_FILTERS:
        raise FilterError(f"status must be one of {', '.join(STATUS_FILTERS)}")
    return value


async def label_id(conn: AsyncConnection[Any], *, agent_id: int, name: str) -> int:
    """The id of the workspace's label `name` (FilterError when it has none of that name)."""
    cur = await conn.execute(
        "SELECT id FROM workspace_labels WHERE agent_id = %s AND name = %s",
        (agent_id, name.strip().lower()),
    )
    row = await cur.fetchone()
    if row is None:
        raise FilterError(
            f"unknown label {name!r}: GET /api/v1/labels lists this workspace's labels"
        )
    return int(row["id"])


DENSE_SHARE = 40  # a label on at least 1/40 of the customers (and 200) is "dense"


async def label_dense(conn: AsyncConnection[Any], *, tables: AgentTables, label_id: int) -> bool:
    """Whether the label is on enough conversations that walking the inbox's order and probing
    each row finds a page sooner than sorting all of the label's conversations
    (bench/team_inbox.py). Counts at most the threshold's worth of index entries."""
    cur = await conn.execute(
        tables.query(
            "SELECT greatest(200, (SELECT reltuples FROM pg_class WHERE oid = %(rel)s::regclass)"
            " / %(share)s)::bigint AS threshold"
        ),
        {"rel": f"{tables.prefix}_customers", "share": DENSE_SHARE},
    )
    threshold = int((await cur.fetchone() or {"threshold": 200})["threshold"])
    cur = await conn.execute(
        tables.query(
            "SELECT count(*) AS n FROM (SELECT 1 FROM {conversation_labels}"
            " WHERE label_id = %s LIMIT %s) x"
        ),
        (label_id, threshold),
    )
    row = await cur.fetchone()
    return bool(row and row["n"] >= threshold)


def team_where(
    tables: AgentTables, team: TeamFilter, params: dict[str, Any]
) -> list[sql.Composable]:
    """Conditions on the customers row `c`; the status and assignee ones use its indexes."""
    where: list[sql.Composable] = []
    if team.status != "all":
        where.append(sql.SQL(STATUS_EXPR + " = %(t_status)s"))
        params["t_status"] = team.status
    if team.assignee == "none":
        where.append(sql.SQL("c.assignee_id IS NULL"))
    elif team.assignee is not None:
        where.append(sql.SQL("c.assignee_id = %(t_assignee)s"))
        params["t_assignee"] = team.me if team.assignee == "me" else UUID(team.assignee)
    if team.label_id is not None and team.label_dense:
        # a probe per row walked in activity order (a scalar subquery, so it stays a filter of
        # the index walk): few rows are walked when many conversations have the label
        where.append(
            tables.query(
                "(SELECT true FROM {conversation_labels} cl"
                " WHERE cl.label_id = %(t_label)s AND cl.customer_id = c.id) IS NOT NULL"
            )
        )
        params["t_label"] = team.label_id
    elif team.label_id is not None:
        # few labelled conversations: take them all from the label's index, then sort them
        where.append(
            tables.query(
                "c.id = ANY (ARRAY(SELECT cl.customer_id FROM {conversation_labels} cl"
                " WHERE cl.label_id = %(t_label)s))"
            )
        )
        params["t_label"] = team.label_id
    if team.mentioned:
        where.append(
            tables.query(
                "c.id = ANY (ARRAY(SELECT n.customer_id FROM {notes} n"
                " WHERE n.mentions @> ARRAY[%(t_me)s]::uuid[]))"
            )
        )
        params["t_me"] = team.me
    return where


def team_select(tables: AgentTables) -> sql.Composed:
    """The inbox row's team columns (status, snooze, assignee and name, label names)."""
    return tables.query(
        STATUS_EXPR + " AS conversation_status, c.snoozed_until, c.assignee_id,"
        " (SELECT u.name FROM users u WHERE u.id = c.assignee_id) AS assignee_name,"
        " ARRAY(SELECT l.name FROM {conversation_labels} cl"
        " JOIN workspace_labels l ON l.id = cl.label_id WHERE cl.customer_id = c.id"
        ' ORDER BY l.name COLLATE "C") AS labels'
    )


def team_columns(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": row["conversation_status"],
        "snoozed_until": row["snoozed_until"],
        "assignee_id": row["assignee_id"],
        "assignee_name": row["assignee_name"],
        "labels": list(row["labels"]),
    }


async def status_counts(
    conn: AsyncConnection[Any], *, tables: AgentTables, team: TeamFilter
) -> dict[str, int]:
    """How many conversations each status has, under the same assignee/label/mention filters."""
    params: dict[str, Any] = {}
    where = team_where(tables, TeamFilter(**{**team.__dict__, "status": "all"}), params)
    query = tables.query(
        "SELECT " + STATUS_EXPR + " AS status, count(*) AS n FROM {customers} c WHERE {where}"
        " GROUP BY 1",
        where=sql.SQL(" AND ").join(where) if where else sql.SQL("true"),
    )
    cur = await conn.execute(query, params)
    counts = dict.fromkeys(STATUS_FILTERS[:-1], 0)
    for r in await cur.fetchall():
        counts[r["status"]] = r["n"]
    counts["all"] = sum(counts.values())
    return counts


async def team_filter_of(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    me: UUID,
    status: str | None,
    assignee: str | None,
    label: str | None,
    mentions: bool,
) -> TeamFilter:
    """The checked filters of a request (FilterError names the bad one)."""
    found = await label_id(conn, agent_id=tables.agent_id, name=label) if label else None
    return TeamFilter(
        me=me,
        status=parse_status(status),
        assignee=parse_assignee(assignee),
        label_id=found,
        mentioned=mentions,
        label_dense=(
            await label_dense(conn, tables=tables, label_id=found) if found is not None else False
        ),
    )
