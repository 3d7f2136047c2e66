"""An agent's rows in shared tables: which tables hold them, in what order they load back.

A shared table holds an agent's rows when it has an `agent_id` column whose foreign key points at
`agents(id)` with ON DELETE CASCADE (members, labels, canned responses, settings, broadcasts,
outgoing webhooks...). They are found in the catalogue, so a feature that adds such a table is
backed up and restored without a list to keep up to date.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

_SHARED_TABLES = """
SELECT c.conrelid::regclass::text AS name
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.contype = 'f' AND c.confrelid = 'agents'::regclass AND c.confdeltype = 'c'
  AND a.attname = 'agent_id' AND cardinality(c.conkey) = 1
ORDER BY 1
"""

# Rebuilt by the restore itself (the per-agent steps it applies, the counts of the restored
# conversations), never loaded from a backup.
_REBUILT = {"agent_schema_applied", "conversation_counts"}

_REFERENCES = """
SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid = ANY (%s::regclass[]) AND c.confrelid = ANY (%s::regclass[])
  AND c.conrelid <> c.confrelid
"""

# Columns of shared tables that name a user: a user deleted since the backup is not restored.
_USER_COLUMNS = """
SELECT a.attname AS column, a.attnotnull AS not_null
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND c.confrelid = 'users'::regclass
  AND cardinality(c.conkey) = 1
"""


async def shared_tables(conn: AsyncConnection[Any]) -> list[str]:
    """Shared tables holding per-agent rows, parents before the tables that reference them."""
    cur = await conn.execute(_SHARED_TABLES)
    names = [r["name"] for r in await cur.fetchall() if r["name"] not in _REBUILT]
    cur = await conn.execute(_REFERENCES, (names, names))
    parents: dict[str, set[str]] = {n: set() for n in names}
    for row in await cur.fetchall():
        parents[row["child"]].add(row["parent"])
    ordered: list[str] = []
    while parents:
        ready = sorted(n for n, p in parents.items() if not p - set(ordered))
        if not ready:  # a cycle: load the rest in name order, constraints checked at the end
            ready = sorted(parents)
        ordered += ready
        for name in ready:
            parents.pop(name)
    return ordered


async def load_shared_rows(
    conn: AsyncConnection[Any], *, table: str, columns: list[str], data: bytes
) -> None:
    """COPY a backup's rows into `table`, forgetting users deleted since (NULL, or the row)."""
    staging = sql.Identifier(f"wacrm_restore_{table}")
    await conn.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(
            staging, sql.Identifier(table)
        )
    )
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        staging, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    async with conn.cursor().copy(stmt) as copy:
        await copy.write(data)
    cur = await conn.execute(_USER_COLUMNS, (table,))
    for ref in await cur.fetchall():
        gone = sql.SQL(
            "{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = {c})"
        ).format(c=sql.Identifier(ref["column"]))
        action = "DELETE FROM {t} WHERE {w}"
        if not ref["not_null"]:
            action = "UPDATE {t} SET {c} = NULL WHERE {w}"
        await conn.execute(
            sql.SQL(action).format(t=staging, c=sql.Identifier(ref["column"]), w=gone)
        )
    listed = sql.SQL(", ").join(map(sql.Identifier, columns))
    await conn.execute(
        sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
            sql.Identifier(table), listed, listed, staging
        )
    )
