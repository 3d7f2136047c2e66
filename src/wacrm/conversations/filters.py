"""The inbox's team filters (status, assignee, label, mentions) and the columns they add."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.errors import FieldError
from wacrm.i18n.text import Text
from wacrm.members import service as members

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
    nothing: bool = False  # the kept counts say no conversation has the label, status and assignee


class FilterError(FieldError, ValueError):
    """A filter value the inbox does not know (answered 400 with this sentence)."""

    status = 400


def parse_assignee(value: str | None) -> str | None:
    """'me', 'none', a user id (UUID) or None; anything else is a FilterError."""
    if value is None or value == "" or value == "all":
        return None
    if value in ("me", "none"):
        return value
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise FilterError(Text("assignee must be 'me', 'none' or a user id")) from exc


def parse_status(value: str | None) -> str:
    if value is None or value == "":
        return "open"
    if value not in STATUS_FILTERS:
        raise FilterError(Text("status must be one of {statuses}", statuses=list(STATUS_FILTERS)))
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
            Text(
                "unknown label {name}: GET /api/v1/labels lists this workspace's labels",
                name=repr(name),
            )
        )
    return int(row["id"])


# A row walked in the inbox's order (an index entry, a probe of the label's key) costs about a
# third of a row fetched by id and sorted (docs/performance.md, "Team inbox filters").
WALK_ROW_COST = 3

_LABEL_COUNTS_SQL = """
SELECT coalesce(sum(n) FILTER (WHERE label_id = %(label)s AND {match}), 0) AS labelled,
       coalesce(sum(n) FILTER (WHERE label_id = 0 AND {match}), 0) AS walked,
       coalesce(sum(n) FILTER (WHERE label_id = %(label)s), 0) AS label_total
FROM conversation_counts WHERE agent_id = %(agent)s AND label_id IN (0, %(label)s)
"""


async def label_strategy(
    conn: AsyncConnection[Any], *, tables: AgentTables, team: TeamFilter, limit: int = 50
) -> TeamFilter:
    """The filter with its label's way of reading, from the kept counts: walk the inbox's order
    (probing the label on each row) when that finds a page sooner than fetching and sorting every
    conversation with the label, and nothing at all when no conversation matches the label, status
    and assignee (the counts are exact: kept in the transactions that change them)."""
    if team.label_id is None:
        return team
    params: dict[str, Any] = {"agent": tables.agent_id, "label": team.label_id}
    match = _counts_match(team, params)
    cur = await conn.execute(
        _LABEL_COUNTS_SQL.replace("{match}", " AND ".join(match) or "true"), params
    )
    row = await cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY: one row
    labelled, walked, total = (int(row[k]) for k in ("labelled", "walked", "label_total"))
    if labelled == 0:
        return replace(team, label_dense=False, nothing=True)
    walk = walked * min(1.0, (limit + 1) / labelled)
    return replace(team, label_dense=walk <= WALK_ROW_COST * total, nothing=False)


def _counts_match(team: TeamFilter, params: dict[str, Any]) -> list[str]:
    """Conditions on conversation_counts rows for the filter's status and assignee."""
    match = []
    if team.status != "all":
        match.append("status = %(status)s")
        params["status"] = team.status
    if team.assignee == "none":
        match.append("assignee_id IS NULL")
    elif team.assignee is not None:
        match.append("assignee_id = %(assignee)s")
        params["assignee"] = team.me if team.assignee == "me" else UUID(team.assignee)
    return match


def team_where(
    tables: AgentTables, team: TeamFilter, params: dict[str, Any]
) -> list[sql.Composable]:
    """Conditions on the customers row `c`; the status and assignee ones use its indexes."""
    where: list[sql.Composable] = []
    if team.nothing:
        return [sql.SQL("false")]
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
    """How many conversations each status has, under the same assignee/label/mention filters:
    from the kept counts (migration 0115) unless mentions are asked for (a member's few)."""
    if team.mentioned:
        return await count_by_status(conn, tables=tables, team=team)
    params: dict[str, Any] = {"agent": tables.agent_id, "label": team.label_id or 0}
    match = _counts_match(replace(team, status="all"), params)
    cur = await conn.execute(
        "SELECT status, sum(n) AS n FROM conversation_counts"
        " WHERE agent_id = %(agent)s AND label_id = %(label)s"
        + "".join(" AND " + m for m in match)
        + " GROUP BY status",
        params,
    )
    return _by_status(await cur.fetchall())


async def count_by_status(
    conn: AsyncConnection[Any], *, tables: AgentTables, team: TeamFilter
) -> dict[str, int]:
    """The counts per status counted from the conversations themselves (any filter)."""
    params: dict[str, Any] = {}
    where = team_where(tables, replace(team, status="all", nothing=False), params)
    query = tables.query(
        "SELECT " + STATUS_EXPR + " AS status, count(*) AS n FROM {customers} c WHERE {where}"
        " GROUP BY 1",
        where=sql.SQL(" AND ").join(where) if where else sql.SQL("true"),
    )
    cur = await conn.execute(query, params)
    return _by_status(await cur.fetchall())


def _by_status(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_FILTERS[:-1], 0)
    for r in rows:
        counts[r["status"]] = int(r["n"])
    counts["all"] = sum(counts.values())
    return counts


async def fold_counts(conn: AsyncConnection[Any]) -> int:
    """Sum each key's rows of the kept counts into one (the periodic job); rows folded."""
    cur = await conn.execute("SELECT wacrm_fold_conversation_counts() AS n")
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


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
    who = parse_assignee(assignee)
    if who not in (None, "me", "none") and not await members.is_member(
        conn, agent_id=tables.agent_id, user_id=UUID(who), active_only=False
    ):
        raise FilterError(
            Text("user {id} is not a member of this workspace", id=who), field="assignee"
        )
    team = TeamFilter(
        me=me,
        status=parse_status(status),
        assignee=who,
        label_id=found,
        mentioned=mentions,
    )
    return await label_strategy(conn, tables=tables, team=team)
