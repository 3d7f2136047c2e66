"""The inbox search: which customers a search text matches, through their indexes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.customers import phones

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Search:
    """A search text split into what each index can answer."""

    text: str

    @property
    def name_prefix(self) -> str:
        escaped = self.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return escaped + "%"

    @property
    def phone(self) -> phones.PhoneQuery | None:
        return phones.phone_match(self.text)

    @property
    def tsquery(self) -> str | None:
        """Words ANDed, the last one as a prefix: 'red' & 'shoe':* (only \\w characters, so safe)."""
        words = [w.lower() for w in _WORD.findall(self.text)][:8]
        if not words:
            return None
        return (
            " & ".join(f"'{w}'" for w in words[:-1])
            + (" & " if len(words) > 1 else "")
            + f"'{words[-1]}':*"
        )


# The inbox search: names and usernames by prefix, phones by their prefix and suffix indexes
# (wacrm.customers.phones), words through the customer's stored search document (migration
# 0056: the words of the name, username and recent messages; one GIN over the customers). When
# the matches are few (at most FEW_MATCHES), the inbox reads those customers and sorts them; when
# there are more, the inbox's own query filters by the search while it walks the inbox order,
# and stops at the page's end (the matches are dense enough).
FEW_MATCHES = 1000
# First, the PROBE most active customers are checked: DENSE_HITS matches among them (2%) mean the
# walk is short, and the matches are not read first (a common word's GIN bitmap costs more).
PROBE = 500
DENSE_HITS = 10


def search_condition(
    search: Search, params: dict[str, Any], *, walked: bool = False
) -> sql.Composable:
    """The WHERE condition (on customers `c`) of a search; its parameters go into `params`.
    `walked`: a filter of the inbox's walk, which no index answers (`lower(c.name || '')` is
    not the indexed expression; a word's prefix is estimated at 1,000 customers where it may match
    all of them, and a bitmap of its matches then read every page of the customers).

    Run it unprepared (`prepare=False`): a prepared statement's generic plan cannot read the
    prefix indexes for a LIKE parameter, and psycopg prepares a statement run five times."""
    name = "lower(c.name || '')" if walked else "lower(c.name)"
    parts = [f"{name} LIKE %(name_prefix)s", "lower(c.username) LIKE %(name_prefix)s"]
    params["name_prefix"] = search.name_prefix
    if search.phone is not None:
        condition, phone_params = phones.match_sql(search.phone, column="c.phone")
        parts.append(condition)
        params.update(phone_params)
    if search.tsquery:
        parts.append("c.search_doc @@ to_tsquery('simple', %(words)s)")
        params["words"] = search.tsquery
    return sql.SQL("(" + " OR ".join(parts) + ")")


async def search_ids(
    conn: AsyncConnection[Any], tables: AgentTables, search: Search, *, limit: int | None = None
) -> list[int]:
    """Customers the search matches (`limit` of them at most), through their indexes."""
    params: dict[str, Any] = {"limit": limit}
    where = search_condition(search, params)
    cur = await conn.execute(
        tables.query("SELECT c.id FROM {customers} c WHERE {where} LIMIT %(limit)s", where=where),
        params,
        prepare=False,
    )
    return [row["id"] for row in await cur.fetchall()]


_DENSITY_SQL = """
SELECT count(*) FILTER (WHERE {where}) AS hits FROM (
  SELECT * FROM {customers} c ORDER BY c.last_message_at DESC NULLS LAST, c.id DESC
  LIMIT %(probe)s) c"""


async def _dense(conn: AsyncConnection[Any], tables: AgentTables, search: Search) -> bool:
    """Whether the search matches at least DENSE_HITS of the PROBE most active customers: then
    the inbox walk finds a page quickly, and reading every match first would cost more."""
    params: dict[str, Any] = {"probe": PROBE}
    where = search_condition(search, params)
    cur = await conn.execute(tables.query(_DENSITY_SQL, where=where), params, prepare=False)
    row = await cur.fetchone()
    return bool(row and row["hits"] >= DENSE_HITS)


async def match_ids(
    conn: AsyncConnection[Any], tables: AgentTables, search: Search
) -> list[int] | None:
    """The ids of the search's matches when they are few (the inbox reads and sorts them), None
    when they are many (the inbox's query filters its walk by the search)."""
    if await _dense(conn, tables, search):
        return None
    ids = await search_ids(conn, tables, search, limit=FEW_MATCHES + 1)
    return ids if len(ids) <= FEW_MATCHES else None
