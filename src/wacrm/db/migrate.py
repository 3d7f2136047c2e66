"""A small migration runner for plain SQL files in `database/migrations/`.

Each `NNNN_name.sql` is applied once, in its own transaction, under an advisory lock (so several
processes starting at once migrate once), and recorded in `schema_migrations`. After each
migration every agent's tables are brought to the newest per-agent steps (`wacrm_upgrade_agent`),
many agents per transaction (`upgrade_agents`): one transaction for thousands of agents would hold
thousands of locks and fill the server's lock table. Agents left behind by an interrupted run are
upgraded by the next one, before any further migration. At the end, the template new agents'
tables are made from (migration 0038) is built for the current steps. A database that has a
migration this code does not know is refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

from wacrm.db.locks import CAPACITY_SQL, HELD_SQL, next_batch_size

log = logging.getLogger(__name__)

LOCK_KEY = 7_413_902_114  # pg_advisory_xact_lock key for migrations
FIRST_UPGRADE_BATCH = 20  # agents in the first upgrade transaction; later ones sized by locks held
LARGEST_UPGRADE_BATCH = 1000
# Agents missing at least one registered per-agent step.
_PENDING_AGENTS = """
SELECT a.id FROM agents a
WHERE EXISTS (SELECT 1 FROM agent_schema_steps s
              WHERE NOT EXISTS (SELECT 1 FROM agent_schema_applied x
                                WHERE x.agent_id = a.id AND x.version = s.version))
ORDER BY a.id
"""
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_INCLUDE_RE = re.compile(r"^-- include: (\S+)\s*$", re.MULTILINE)


class MigrationError(RuntimeError):
    """A migration could not be applied, or the database does not match the code."""


class DatabaseAheadError(MigrationError):
    """The database holds migrations that this version of the code does not know."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def database_dir() -> Path:
    return Path(str(resources.files("wacrm") / "database"))


def _expand_includes(sql: str, base: Path) -> str:
    return _INCLUDE_RE.sub(lambda m: (base / m.group(1)).resolve().read_text(), sql)


def discover(directory: Path | None = None) -> list[Migration]:
    """Every migration file, in version order."""
    directory = directory or database_dir() / "migrations"
    found: list[Migration] = []
    for path in sorted(directory.iterdir()):
        match = _FILE_RE.match(path.name)
        if not match:
            continue
        sql = _expand_includes(path.read_text(), path.parent)
        found.append(Migration(int(match.group(1)), match.group(2), sql))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version in {directory}")
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def _applied(conn: psycopg.Connection) -> dict[int, str]:
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {int(r[0]): str(r[1]) for r in rows}


def status(
    url: str, migrations: list[Migration] | None = None
) -> tuple[list[Migration], list[int]]:
    """(pending migrations, versions in the database unknown to the code)."""
    migrations = migrations if migrations is not None else discover()
    with psycopg.connect(url) as conn:
        exists = conn.execute(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL"
        ).fetchone()
        applied = _applied(conn) if exists and exists[0] else {}
    known = {m.version for m in migrations}
    return [m for m in migrations if m.version not in applied], sorted(set(applied) - known)


def migrate(url: str, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration; return those applied."""
    migrations = migrations if migrations is not None else discover()
    known = {m.version for m in migrations}
    done: list[Migration] = []
    with psycopg.connect(url) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            _ensure_table(conn)
            applied = _applied(conn)
        ahead = sorted(set(applied) - known)
        if ahead:
            raise DatabaseAheadError(
                f"the database has migrations {ahead} that this version of wacrm does not know; "
                "upgrade wacrm before starting it on this database"
            )
        upgrade_agents(conn)  # agents an interrupted run left behind
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    log.warning(
                        "migration %04d_%s changed after it was applied",
                        migration.version,
                        migration.name,
                    )
                continue
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                if conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                ).fetchone():
                    continue  # another process applied it while we waited for the lock
                try:
                    conn.execute(migration.sql.encode())
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                    ) from exc
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            log.debug("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration)
            upgrade_agents(conn)
        prepare_agent_template(conn)
    if done:
        log.info("applied %d migrations, up to %04d_%s", len(done), done[-1].version, done[-1].name)
    return done


def prepare_agent_template(conn: psycopg.Connection) -> None:
    """Build the new agents' table template for the current steps now, not at the next provisioning."""
    with conn.transaction():
        row = conn.execute(
            "SELECT to_regprocedure('wacrm_agent_template()') IS NOT NULL"
        ).fetchone()
        if not (row and row[0]):
            return
        reason = conn.execute("SELECT unusable_reason FROM wacrm_agent_template()").fetchone()
    if reason and reason[0]:
        log.warning("new agents replay the per-agent steps: %s", reason[0])


def upgrade_agents(conn: psycopg.Connection, *, batch_size: int | None = None) -> int:
    """Apply every missing per-agent step to every agent, in batches; the number of agents upgraded.

    Each batch is one transaction under the migration lock. Without `batch_size` the first batch
    has FIRST_UPGRADE_BATCH agents and each later one as many as keep it to a quarter of the lock
    table, judged by the locks the previous batch held. When a batch fails, its agents are retried
    one by one, so the error names the agent whose step failed and the agents before it are done.
    """
    with conn.transaction():  # (not an implicit transaction: each batch must commit)
        ready = conn.execute(
            "SELECT to_regprocedure('wacrm_upgrade_agent(bigint)') IS NOT NULL"
            " AND to_regclass('agent_schema_applied') IS NOT NULL"
        ).fetchone()
        if not (ready and ready[0]):
            return 0
        # Unanalysed bookkeeping tables make the estimate huge, and JIT compiling would cost
        # more than the query (docs/performance.md, "Measurements behind the code").
        conn.execute("SET LOCAL jit = off")
        ids = [int(r[0]) for r in conn.execute(_PENDING_AGENTS).fetchall()]
        capacity_row = conn.execute(CAPACITY_SQL).fetchone()
    if not ids:
        return 0
    capacity = int(capacity_row[0]) if capacity_row else 6400
    size = batch_size or FIRST_UPGRADE_BATCH
    done = 0
    while done < len(ids):
        batch = ids[done : done + size]
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                conn.execute(
                    "SELECT count(wacrm_upgrade_agent(id)) FROM unnest(%s::bigint[]) AS id",
                    (batch,),
                )
                held_row = conn.execute(HELD_SQL).fetchone()
        except psycopg.Error as exc:
            if len(batch) > 1:
                size = 1
                continue
            raise MigrationError(
                f"upgrading the tables of agent {batch[0]} failed: "
                f"{exc.diag.message_primary or exc}; {done} of {len(ids)} "
                "agents were upgraded, the others are upgraded by the next `wacrm migrate`"
            ) from exc
        done += len(batch)
        if batch_size is None:
            held = int(held_row[0]) if held_row else 0
            size = next_batch_size(
                capacity=capacity, held=held, done=len(batch), largest=LARGEST_UPGRADE_BATCH
            )
    log.info("upgraded the tables of %d agents", len(ids))
    return len(ids)


def unregistered_agent_tables(url: str) -> list[str]:
    """Prefixes of `agt_*_customers` tables that no `agents` row owns (left alone by migrate)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT substring(c.relname FROM '^(agt_[a-z0-9]+)_customers$') AS prefix
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname ~ '^agt_[a-z0-9]+_customers$'
              AND NOT EXISTS (SELECT 1 FROM agents a
                              WHERE a.agent_prefix = substring(c.relname FROM '^(agt_[a-z0-9]+)_customers$'))
            ORDER BY 1
            """
        ).fetchall()
    return [r[0] for r in rows]
