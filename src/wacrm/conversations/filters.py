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
    # walk the assignee's conversations probing the label on each, rather than the label's rows
    label_probe: bool = False
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


async def label_id(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    name: str,
    known: list[dict[str, Any]] | None = None,
) -> int:
    """The id of the workspace's label `name` (FilterError when it has none of that name);
    `known`: the workspace's labels already read (no query then)."""
    wanted = name.strip().lower()
    if known is not None:
        row = next((r for r in known if r["name"] == wanted), None)
    else:
        cur = await conn.execute(
            "SELECT id FROM workspace_labels WHERE agent_id = %s AND name = %s",
            (agent_id, wanted),
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


# A row walked on the customers' index while probing the label costs about twice a row walked on
# the label's own index (an index entry and a probe against an index entry).
PROBE_ROW_COST = 2

_LABEL_COUNTS_SQL = """
SELECT coalesce(sum(n) FILTER (WHERE label_id = %(label)s AND {match}), 0) AS labelled,
       coalesce(sum(n) FILTER (WHERE label_id = 0 AND {match}), 0) AS assignee_rows,
       coalesce(sum(n) FILTER (WHERE label_id = %(label)s AND {status}), 0) AS label_rows
FROM conversation_counts WHERE agent_id = %(agent)s AND label_id IN (0, %(label)s)
"""


async def label_strategy(
    conn: AsyncConnection[Any], *, tables: AgentTables, team: TeamFilter, limit: int = 50
) -> TeamFilter:
    """A label with an assignee: from the kept counts, walk the label's rows (keeping the
    assignee's) or the assignee's conversations (probing the label), whichever reaches a page
    sooner, and nothing at all when no conversation matches (the counts are exact: kept in the
    transactions that change them). Without an assignee the label's rows are the page."""
    if team.label_id is None or team.assignee is None or team.mentioned:
        return team
    params: dict[str, Any] = {"agent": tables.agent_id, "label": team.label_id}
    match = _counts_match(team, params)
    status = _counts_match(replace(team, assignee=None), params)
    cur = await conn.execute(
        _LABEL_COUNTS_SQL.replace("{match}", " AND ".join(match)).replace(
            "{status}", " AND ".join(status) or "true"
        ),
        params,
    )
    row = await cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY: one row
    labelled, assignee_rows, label_rows = (
        int(row[k]) for k in ("labelled", "assignee_rows", "label_rows")
    )
    if labelled == 0:
        return replace(team, label_probe=False, nothing=True)
    share = min(1.0, (limit + 1) / labelled)
    probe = assignee_rows * share * PROBE_ROW_COST < label_rows * share
    return replace(team, label_probe=probe, nothing=False)


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


@dataclass(frozen=True)
class Walk:
    """Which rows a page walks in the inbox's order: the customers' (alias c), or a label's or
    a member's mentions (alias k: rows carrying their conversation's status, assignee and last
    activity, migration 0125), joined to their customers c."""

    source: str  # "customers", "labels" or "mentions"

    @property
    def keys(self) -> str:
        return "c" if self.source == "customers" else "k"

    @property
    def id(self) -> str:
        return "c.id" if self.source == "customers" else "k.customer_id"

    def from_clause(self, tables: AgentTables) -> sql.Composed:
        table = {"labels": "{conversation_labels}", "mentions": "{conversation_mentions}"}
        if self.source == "customers":
            return tables.query("{customers} c")
        return tables.query(table[self.source] + " k JOIN {customers} c ON c.id = k.customer_id")


CUSTOMERS = Walk("customers")


def walk_of(team: TeamFilter | None, *, few_matches: bool) -> Walk:
    """The walk of a page: a member's mentions, else a label's rows (unless the label is probed
    on the assignee's conversations or on a search's few matches), else the customers."""
    if team is None or team.nothing or few_matches:
        return CUSTOMERS
    if team.mentioned:
        return Walk("mentions")
    if team.label_id is not None and not team.label_probe:
        return Walk("labels")
    return CUSTOMERS


def team_where(
    tables: AgentTables, team: TeamFilter, params: dict[str, Any], walk: Walk = CUSTOMERS
) -> list[sql.Composable]:
    """Conditions of a page walking `walk`; the status and assignee ones on the walked rows (k's
    columns, or the customers' through their indexes)."""
    where: list[sql.Composable] = []
    if team.nothing:
        return [sql.SQL("false")]
    status = STATUS_EXPR if walk.keys == "c" else "k.status"
    if team.status != "all":
        where.append(sql.SQL(status + " = %(t_status)s"))
        params["t_status"] = team.status
    if team.assignee == "none":
        where.append(sql.SQL(walk.keys + ".assignee_id IS NULL"))
    elif team.assignee is not None:
        where.append(sql.SQL(walk.keys + ".assignee_id = %(t_assignee)s"))
        params["t_assignee"] = team.me if team.assignee == "me" else UUID(team.assignee)
    if team.label_id is not None:
        params["t_label"] = team.label_id
        if walk.source == "labels":
            where.append(sql.SQL("k.label_id = %(t_label)s"))
        else:  # a probe per row walked (a scalar subquery, so it stays a filter of the walk)
            where.append(
                tables.query(
                    "(SELECT true FROM {conversation_labels} cl"
                    " WHERE cl.label_id = %(t_label)s AND cl.customer_id = c.id) IS NOT NULL"
                )
            )
    if team.mentioned:
        params["t_me"] = team.me
        if walk.source == "mentions":
            where.append(sql.SQL("k.user_id = %(t_me)s"))
        else:
            where.append(
                tables.query(
                    "(SELECT true FROM {conversation_mentions} cm"
                    " WHERE cm.user_id = %(t_me)s AND cm.customer_id = c.id) IS NOT NULL"
                )
            )
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
    """The counts per status counted from the rows (a member's mentions, or the customers)."""
    params: dict[str, Any] = {}
    walk = walk_of(replace(team, label_probe=True), few_matches=False)
    where = team_where(tables, replace(team, status="all", nothing=False), params, walk)
    status = STATUS_EXPR if walk.keys == "c" else "k.status"
    query = tables.query(
        "SELECT " + status + " AS status, count(*) AS n FROM {source} WHERE {where} GROUP BY 1",
        source=walk.from_clause(tables),
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
    known_labels: list[dict[str, Any]] | None = None,
) -> TeamFilter:
    """The checked filters of a request (FilterError names the bad one)."""
    found = (
        await label_id(conn, agent_id=tables.agent_id, name=label, known=known_labels)
        if label
        else None
    )
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
