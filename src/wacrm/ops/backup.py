"""Back up one agent (its row, its tables, its shared rows, its media files) to a file, and restore it.

Shared rows are those of every table with an `agent_id` that cascades from `agents` (see
`wacrm.ops.shared_rows`): members, labels, settings, broadcasts, outgoing webhooks and the rest.

The file is a gzipped tar: `manifest.json` (format, schema version, tables and their columns, row
counts), one `COPY ... TO STDOUT` text stream per table (`data/<table>.copy`), and the agent's
downloaded media (`media/<message_id>`). COPY goes through psycopg, so no pg_dump binary has to
match the server's version. A restore recreates the tables with the same per-agent schema steps
as provisioning, loads the rows with the agent's own triggers switched off (the totals and
timestamps are those of the backup), and checks every order total against its items.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import validate_prefix
from wacrm.ops.shared_rows import load_shared_rows, shared_tables

FORMAT = "wacrm-agent-backup/1"
# Load order: a table's references come before it (customers.last_message_id is deferred).
_ORDER = ("customers", "orders", "orders_items", "orders_history", "messages")


class BackupError(ValueError):
    """A backup or restore that cannot be done as asked (the message says why)."""


async def _agent_tables(conn: AsyncConnection[Any], prefix: str) -> list[str]:
    cur = await conn.execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             AND starts_with(c.relname, %s) ORDER BY c.relname""",
        (prefix + "_",),
    )
    names = [r["relname"] for r in await cur.fetchall()]
    known = [f"{prefix}_{t}" for t in _ORDER if f"{prefix}_{t}" in names]
    return known + [n for n in names if n not in known]


async def _columns(conn: AsyncConnection[Any], table: str) -> list[str]:
    """The columns COPY can write (generated columns are computed again on load)."""
    cur = await conn.execute(
        """SELECT column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = %s AND is_generated = 'NEVER'
           ORDER BY ordinal_position""",
        (table,),
    )
    return [r["column_name"] for r in await cur.fetchall()]


async def _copy_out(conn: AsyncConnection[Any], query: sql.Composable) -> bytes:
    buf = bytearray()
    async with conn.cursor().copy(sql.SQL("COPY ({}) TO STDOUT").format(query)) as copy:
        async for chunk in copy:
            buf += chunk
    return bytes(buf)


async def _copy_in(conn: AsyncConnection[Any], table: str, columns: list[str], data: bytes) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    async with conn.cursor().copy(stmt) as copy:
        await copy.write(data)


def _select(table: str, columns: list[str], where: sql.Composable | None = None) -> sql.Composed:
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
    )
    if where is not None:
        query = sql.SQL("{} WHERE {}").format(query, where)
    return sql.SQL("{} ORDER BY 1").format(query)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


async def backup_agent(
    conn: AsyncConnection[Any], *, prefix: str, out: Path, media_root: Path | None = None
) -> dict[str, Any]:
    """Write agent `prefix` to `out` in one REPEATABLE READ snapshot; returns the manifest."""
    validate_prefix(prefix)
    cur = await conn.execute(
        "SELECT id, schema_version FROM agents WHERE agent_prefix = %s", (prefix,)
    )
    agent = await cur.fetchone()
    if agent is None:
        raise BackupError(f"no agent with prefix {prefix}")
    agent_id = int(agent["id"])
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "agent_id": agent_id,
        "prefix": prefix,
        "schema_version": agent["schema_version"],
        "tables": [],
        "shared": [],
        "media": [],
    }
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            columns = await _columns(conn, "agents")
            data = await _copy_out(
                conn, _select("agents", columns, sql.SQL("id = {}").format(sql.Literal(agent_id)))
            )
            manifest["agent"] = {"columns": columns}
            _add(tar, "data/agents.copy", data)
            for table in await _agent_tables(conn, prefix):
                columns = await _columns(conn, table)
                data = await _copy_out(conn, _select(table, columns))
                manifest["tables"].append(
                    {
                        "name": table,
                        "suffix": table[len(prefix) + 1 :],
                        "columns": columns,
                        "rows": data.count(b"\n"),
                    }
                )
                _add(tar, f"data/{table}.copy", data)
            for table in await shared_tables(conn):
                columns = await _columns(conn, table)
                where = sql.SQL("agent_id = {}").format(sql.Literal(agent_id))
                data = await _copy_out(conn, _select(table, columns, where))
                manifest["shared"].append(
                    {"name": table, "columns": columns, "rows": data.count(b"\n")}
                )
                _add(tar, f"data/{table}.copy", data)
            folder = (media_root / str(agent_id)) if media_root else None
            if folder is not None and folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.is_file() and path.name.isdigit():
                        _add(tar, f"media/{path.name}", path.read_bytes())
                        manifest["media"].append(path.name)
            _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        await conn.execute("ROLLBACK")
    tmp.replace(out)
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest = dict(json.loads(member.read()))
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{path} is not a wacrm agent backup: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


async def restore_agent(
    conn: AsyncConnection[Any], *, path: Path, media_root: Path | None = None
) -> dict[str, Any]:
    """Recreate the agent of a backup (same id and prefix) in one transaction; returns the manifest.

    Refused when the agent id, its prefix or any of its tables exists, or when the backup comes
    from a newer schema than this database's.
    """
    manifest = read_manifest(path)
    prefix = validate_prefix(manifest["prefix"])
    agent_id = int(manifest["agent_id"])
    await _check_restorable(conn, manifest, prefix, agent_id)
    with tarfile.open(path, "r:gz") as tar:

        def member(name: str) -> bytes:
            f = tar.extractfile(name)
            if f is None:
                raise BackupError(f"{path} lacks {name}")
            return f.read()

        async with conn.transaction():
            created = await _restore_agent_row(conn, manifest, member, prefix, agent_id)
            await _restore_tables(conn, manifest, member, prefix, created)
            await _restore_shared(conn, manifest, member)
            # the tables were loaded with their triggers off: the inbox's counts are counted
            await conn.execute("SELECT wacrm_recount_conversations(%s, %s)", (prefix, agent_id))
            await check_totals(conn, prefix=prefix)
        if media_root is not None:
            folder = media_root / str(agent_id)
            for name in manifest["media"]:
                if not str(name).isdigit():
                    raise BackupError(f"unexpected media entry {name!r}")
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(member(f"media/{name}"))
    return manifest


async def _check_restorable(
    conn: AsyncConnection[Any], manifest: dict[str, Any], prefix: str, agent_id: int
) -> None:
    """BackupError when the agent or its tables exist, or the backup's schema is newer."""
    cur = await conn.execute(
        "SELECT id, agent_prefix FROM agents WHERE id = %s OR agent_prefix = %s", (agent_id, prefix)
    )
    clash = await cur.fetchone()
    if clash is not None:
        raise BackupError(
            f"agent {clash['id']} ({clash['agent_prefix']}) exists; drop it before restoring "
            f"{prefix} (agent {agent_id})"
        )
    if await _agent_tables(conn, prefix):
        raise BackupError(f"tables named {prefix}_* exist without an agent; remove them first")
    cur = await conn.execute("SELECT coalesce(max(version), 0) AS v FROM agent_schema_steps")
    row = await cur.fetchone()
    current = int(row["v"]) if row else 0
    if int(manifest["schema_version"]) > current:
        raise BackupError(
            f"the backup's agent schema is version {manifest['schema_version']}, this database's "
            f"only {current}: run `wacrm migrate` with the newer code first"
        )


async def _restore_agent_row(
    conn: AsyncConnection[Any],
    manifest: dict[str, Any],
    member: Callable[[str], bytes],
    prefix: str,
    agent_id: int,
) -> list[str]:
    """The agents row (unlinked if its user is gone) and its empty tables; their names."""
    await conn.execute("CREATE TEMP TABLE wacrm_restore_agent (LIKE agents) ON COMMIT DROP")
    await _copy_in(
        conn, "wacrm_restore_agent", manifest["agent"]["columns"], member("data/agents.copy")
    )
    await conn.execute(
        """UPDATE wacrm_restore_agent r SET user_id = NULL
           WHERE user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id)"""
    )
    await conn.execute("INSERT INTO agents SELECT * FROM wacrm_restore_agent")
    await conn.execute("UPDATE agents SET schema_version = 0 WHERE id = %s", (agent_id,))
    await conn.execute("SELECT wacrm_upgrade_agent(%s)", (agent_id,))
    return await _agent_tables(conn, prefix)


async def _restore_tables(
    conn: AsyncConnection[Any],
    manifest: dict[str, Any],
    member: Callable[[str], bytes],
    prefix: str,
    created: list[str],
) -> None:
    """The agent's rows as they were (its own triggers off meanwhile), keys checked at the end."""
    for table in created:
        await conn.execute(
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table))
        )
    for entry in manifest["tables"]:
        table = f"{prefix}_{entry['suffix']}"
        if table != entry["name"]:
            raise BackupError(f"table {entry['name']!r} does not belong to {prefix}")
        if table not in created:
            raise BackupError(f"this database's schema has no table {table}")
        await _copy_in(conn, table, entry["columns"], member(f"data/{table}.copy"))
        if "id" in entry["columns"]:
            await conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), max(id)) FROM {i} "
                    "HAVING max(id) IS NOT NULL"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )
    await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred keys checked now
    for table in created:
        await conn.execute(
            sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table))
        )


async def _restore_shared(
    conn: AsyncConnection[Any], manifest: dict[str, Any], member: Callable[[str], bytes]
) -> None:
    """The agent's rows of shared tables, and the shared sequence past them."""
    known = await shared_tables(conn)
    for entry in manifest["shared"]:
        if entry["name"] not in known:
            raise BackupError(f"unexpected shared table {entry['name']!r} in the backup")
        data = member(f"data/{entry['name']}.copy")
        await load_shared_rows(conn, table=entry["name"], columns=entry["columns"], data=data)
    await conn.execute(
        """SELECT setval(pg_get_serial_sequence('outbound_media', 'id'),
             greatest(coalesce(max(id), 1),
                      coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbound_media', 'id')::regclass), 1)))
           FROM outbound_media"""
    )


async def check_totals(conn: AsyncConnection[Any], *, prefix: str) -> None:
    """Raise when an order's total is not the sum of its items (a damaged backup or table)."""
    validate_prefix(prefix)
    orders, items = sql.Identifier(f"{prefix}_orders"), sql.Identifier(f"{prefix}_orders_items")
    cur = await conn.execute(
        sql.SQL(
            """SELECT o.id FROM {o} o LEFT JOIN {i} i ON i.order_id = o.id GROUP BY o.id
               HAVING o.total_amount IS DISTINCT FROM coalesce(sum(i.total), 0) LIMIT 5"""
        ).format(o=orders, i=items)
    )
    wrong = [r["id"] for r in await cur.fetchall()]
    if wrong:
        raise BackupError(
            f"orders {wrong} of {prefix} have a total that is not the sum of their items"
        )
