"""Many agents: create_agents in batches, step 2 without table rewrites, the migrate runner's batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.agents.catalogue import create_agent_by_steps
from tests.agents.catalogue import fingerprint as _fingerprint
from tests.helpers import make_user
from wacrm.agents.service import AgentError, AgentSpec, create_agent, create_agents
from wacrm.db.locks import next_batch_size
from wacrm.db.migrate import Migration, MigrationError, database_dir, discover, migrate


def _old_step_2() -> str:
    """Step 2's body as migration 0003 defined it (USING ... AT TIME ZONE 'UTC', rewriting)."""
    text = (database_dir() / "migrations" / "0003_agent_tables.sql").read_text()
    start = text.index("CREATE OR REPLACE FUNCTION wacrm_agent_step_0002")
    return text[start : text.index("END $$;", start) + len("END $$;")]


async def test_step_2_ends_in_the_same_tables_as_before(conn) -> None:
    """The rewrite-free step 2 (0035) leaves exactly the catalogue the rewriting one (0003) left."""
    admin = await make_user(conn)
    new = await create_agent_by_steps(conn, created_by=admin)
    async with conn.transaction():
        await conn.execute(_old_step_2().encode())
        old = await create_agent_by_steps(conn, created_by=admin)
        new_body = (database_dir() / "migrations" / "0035_agent_step2_no_rewrite.sql").read_text()
        await conn.execute(new_body.encode())
    old_print, new_print = await _fingerprint(conn, old), await _fingerprint(conn, new)
    assert len(new_print) > 150
    assert old_print == new_print


SEED_ROWS = """
INSERT INTO {p}_customers (agent_id, name, phone, created_at) VALUES
  ({a}, 'Jonas', '+4915123456789', '2025-02-01 08:30:00'), ({a}, 'Mia', '+4915111111111', 'infinity');
INSERT INTO {p}_messages (customer_id, message, direction, "timestamp") VALUES
  (1, 'Hello', 'inbound', '2025-02-01 08:31:00'), (2, 'x', 'outbound', '2025-06-30 23:59:59.5');
INSERT INTO {p}_orders (customer_id, status, created_at, updated_at) VALUES
  (1, 'pending', '2025-03-30 01:30:00', '2025-10-26 02:30:00');
"""


async def test_takeover_converts_timestamps_as_utc_without_rewriting(conn) -> None:
    """Seed-shaped tables with rows, a session in another time zone: same instants, same files."""
    admin = await make_user(conn)
    other = await create_agent(conn, created_by=admin)
    await conn.execute("SELECT wacrm_agent_step_0001('agt_seed', %s)", (other["id"],))
    await conn.execute(SEED_ROWS.format(p="agt_seed", a=other["id"]).encode())
    files_sql = "SELECT relname, relfilenode FROM pg_class WHERE relname = ANY(%s) ORDER BY relname"
    names = ["agt_seed_customers", "agt_seed_messages", "agt_seed_orders"]
    cur = await conn.execute(files_sql, (names,))
    before = await cur.fetchall()
    await conn.execute("SET TimeZone = 'America/New_York'")
    agent = await create_agent(conn, created_by=admin, prefix="agt_seed")
    cur = await conn.execute("SHOW TimeZone")
    assert (await cur.fetchone())["TimeZone"] == "America/New_York"  # the caller's, restored
    cur = await conn.execute(files_sql, (names,))
    assert await cur.fetchall() == before  # no table was rewritten
    cur = await conn.execute(
        "SELECT agent_id, created_at::text = 'infinity' AS inf FROM agt_seed_customers ORDER BY id"
    )
    rows = await cur.fetchall()
    assert [(r["agent_id"], r["inf"]) for r in rows] == [(agent["id"], False), (agent["id"], True)]
    cur = await conn.execute("SELECT created_at FROM agt_seed_customers WHERE id = 1")
    assert (await cur.fetchone())["created_at"] == datetime(2025, 2, 1, 8, 30, tzinfo=UTC)
    cur = await conn.execute('SELECT "timestamp" FROM agt_seed_messages ORDER BY id')
    assert [r["timestamp"] for r in await cur.fetchall()] == [
        datetime(2025, 2, 1, 8, 31, tzinfo=UTC),
        datetime(2025, 6, 30, 23, 59, 59, 500000, tzinfo=UTC),
    ]
    cur = await conn.execute("SELECT created_at, updated_at FROM agt_seed_orders")
    order = await cur.fetchone()
    assert order["created_at"] == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert order["updated_at"] >= datetime(2025, 10, 26, 2, 30, tzinfo=UTC)  # touched by step 20


async def test_create_agents_in_batches(conn) -> None:
    admin = await make_user(conn)
    user = await make_user(conn, "agent@example.com", "agent")
    batches: list[int] = []
    specs = [AgentSpec(), AgentSpec(prefix="agt_bulk"), AgentSpec(user_id=user)]
    specs += [AgentSpec(default_currency="EUR") for _ in range(4)]
    made = await create_agents(
        conn,
        created_by=admin,
        specs=specs,
        batch_size=3,
        on_batch=lambda rows: batches.append(len(rows)),
    )
    assert batches == [3, 3, 1]
    assert [a["id"] for a in made] == sorted(a["id"] for a in made)
    assert made[1]["agent_prefix"] == "agt_bulk" and made[2]["user_id"] == user
    assert made[0]["agent_prefix"] == f"agt_{made[0]['id']}"
    assert [a["default_currency"] for a in made[3:]] == ["EUR"] * 4
    cur = await conn.execute("SELECT max(version) AS v FROM agent_schema_steps")
    newest = (await cur.fetchone())["v"]
    assert {a["schema_version"] for a in made} == {newest}
    single = await create_agent(conn, created_by=admin)
    expected = await _fingerprint(conn, single)
    for agent in made:
        assert await _fingerprint(conn, agent) == expected, agent["agent_prefix"]


async def test_create_agents_in_several_sessions(db_url: str, conn) -> None:
    """Three sessions take batches in turn: every agent made once, each one's tables complete."""
    admin = await make_user(conn)
    opened: list[psycopg.AsyncConnection[Any]] = []

    async def connect() -> psycopg.AsyncConnection[Any]:
        opened.append(
            await psycopg.AsyncConnection.connect(db_url, row_factory=dict_row, autocommit=True)
        )
        return opened[-1]

    batches: list[int] = []
    made = await create_agents(
        conn,
        created_by=admin,
        specs=[AgentSpec() for _ in range(10)] + [AgentSpec(prefix="agt_par")],
        batch_size=2,
        sessions=3,
        connect=connect,
        on_batch=lambda rows: batches.append(len(rows)),
    )
    assert len(opened) == 2 and all(c.closed for c in opened)
    assert sorted(batches) == [1, 2, 2, 2, 2, 2]
    assert [a["id"] for a in made] == sorted(a["id"] for a in made)
    assert len({a["id"] for a in made}) == 11
    single = await create_agent(conn, created_by=admin)
    expected = await _fingerprint(conn, single)
    for agent in made:
        assert await _fingerprint(conn, agent) == expected, agent["agent_prefix"]
    with pytest.raises(ValueError, match="connect"):
        await create_agents(conn, created_by=admin, specs=[AgentSpec()], sessions=2)


async def test_a_new_agents_own_tables_take_no_lock_on_shared_tables(conn) -> None:
    """Phase 1 (migration 0105) leaves `agents` and `workspace_labels` alone; phase 2 links them."""
    admin = await make_user(conn)
    cur = await conn.execute("SELECT * FROM wacrm_agent_template()")
    tpl = await cur.fetchone()
    shared = tpl["statements"][len(tpl["statements"]) - tpl["shared_statements"] :]
    assert sorted(s.split(" REFERENCES ")[1].split("(")[0] for s in shared) == [
        "agents",
        "workspace_labels",
    ]
    async with conn.transaction():
        cur = await conn.execute("SELECT nextval('agents_id_seq') AS id")
        agent_id = (await cur.fetchone())["id"]
        await conn.execute(
            "SELECT wacrm_create_agent_tables(%s, %s, %s)",
            (f"agt_{agent_id}", agent_id, tpl["steps_key"]),
        )
        cur = await conn.execute(
            """SELECT relation::regclass::text AS rel, mode FROM pg_locks
               WHERE pid = pg_backend_pid() AND relation IN ('agents'::regclass,
                     'workspace_labels'::regclass)"""
        )
        assert await cur.fetchall() == []
        await conn.execute(
            "INSERT INTO agents (id, agent_prefix, created_by, schema_version)"
            " VALUES (%s, %s, %s, %s)",
            (agent_id, f"agt_{agent_id}", admin, max(tpl["steps"])),
        )
        cur = await conn.execute(
            "SELECT wacrm_attach_agent_tables(%s, %s) AS v", (agent_id, tpl["steps_key"])
        )
        assert (await cur.fetchone())["v"] == max(tpl["steps"])
    cur = await conn.execute("SELECT * FROM agents WHERE id = %s", (agent_id,))
    two_phased = await cur.fetchone()
    assert await _fingerprint(conn, two_phased) == await _fingerprint(
        conn, await create_agent_by_steps(conn, created_by=admin)
    )


async def test_create_agents_sizes_batches_by_locks(conn) -> None:
    admin = await make_user(conn)
    batches: list[int] = []
    await create_agents(
        conn,
        created_by=admin,
        specs=[AgentSpec() for _ in range(12)],
        on_batch=lambda rows: batches.append(len(rows)),
    )
    assert batches[0] == 8 and sum(batches) == 12
    assert next_batch_size(capacity=6400, held=1200, done=8, largest=200) == 10
    assert next_batch_size(capacity=6400, held=30, done=10, largest=200) == 200
    assert next_batch_size(capacity=100, held=5000, done=1, largest=200) == 1


@pytest.mark.parametrize(
    ("bad", "status", "message"),
    [
        ("twice", 409, "given twice"),
        ("taken", 409, "already exists"),
        ("no_user", 404, "no user"),
        ("linked", 409, "already linked"),
    ],
)
async def test_create_agents_checks_everything_before_creating_anything(
    conn, bad: str, status: int, message: str
) -> None:
    import uuid

    admin = await make_user(conn)
    linked = await make_user(conn, "linked@example.com", "agent")
    await create_agent(conn, created_by=admin, prefix="agt_taken", user_id=linked)
    last = {
        "twice": AgentSpec(prefix="agt_a1"),
        "taken": AgentSpec(prefix="agt_taken"),
        "no_user": AgentSpec(user_id=uuid.uuid4()),
        "linked": AgentSpec(user_id=linked),
    }[bad]
    specs = [AgentSpec(prefix="agt_a1"), AgentSpec(), AgentSpec(), last]
    with pytest.raises(AgentError, match=message) as caught:
        await create_agents(conn, created_by=admin, specs=specs, batch_size=1)
    assert caught.value.status == status
    cur = await conn.execute("SELECT count(*) AS n FROM agents")
    assert (await cur.fetchone())["n"] == 1


async def test_create_agents_inside_a_transaction_is_all_or_nothing(conn) -> None:
    admin = await make_user(conn)
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            made = await create_agents(
                conn, created_by=admin, specs=[AgentSpec() for _ in range(3)], batch_size=1
            )
            assert len(made) == 3
            raise RuntimeError("roll back")
    cur = await conn.execute(
        "SELECT (SELECT count(*) FROM agents) AS agents,"
        " (SELECT count(*) FROM pg_class WHERE relname LIKE 'agt\\_%%') AS tables"
    )
    assert await cur.fetchone() == {"agents": 0, "tables": 0}


FAILING_STEP = """
CREATE FUNCTION wacrm_agent_step_9003(p text, a_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF a_id = (SELECT value::bigint FROM bench_fail_agent) THEN
    RAISE EXCEPTION 'step 9003 refuses agent %', a_id;
  END IF;
  EXECUTE format('ALTER TABLE %I ADD COLUMN note9003 text', p || '_customers');
END $$;
INSERT INTO agent_schema_steps VALUES (9003, 'wacrm_agent_step_9003', 'test: fails for one agent');
"""


async def test_migrate_upgrades_agents_in_batches_and_names_the_one_that_fails(
    db_url: str, conn
) -> None:
    admin = await make_user(conn)
    made = await create_agents(conn, created_by=admin, specs=[AgentSpec() for _ in range(5)])
    ids = [a["id"] for a in made]
    await conn.execute("CREATE TABLE bench_fail_agent (value text)")
    await conn.execute("INSERT INTO bench_fail_agent VALUES (%s)", (str(ids[3]),))
    later = [*discover(), Migration(9003, "failing_step", FAILING_STEP)]
    with pytest.raises(MigrationError, match=rf"agent {ids[3]} failed.*refuses.*3 of 5"):
        migrate(db_url, later)

    async def upgraded() -> list[int]:
        cur = await conn.execute(
            "SELECT agent_id FROM agent_schema_applied WHERE version = 9003 ORDER BY agent_id"
        )
        return [r["agent_id"] for r in await cur.fetchall()]

    assert await upgraded() == ids[:3]  # recorded migration, agents before the failing one done
    await conn.execute("UPDATE bench_fail_agent SET value = '0'")
    assert migrate(db_url, later) == []  # nothing left to apply, but the agents left behind ...
    assert await upgraded() == ids  # ... are upgraded first
    cur = await conn.execute(
        "SELECT count(*) AS n FROM pg_attribute WHERE attname = 'note9003' AND NOT attisdropped"
    )
    assert (await cur.fetchone())["n"] == 5


def test_upgrade_agents_commits_each_batch(db_url: str) -> None:
    """Batches are separate transactions (not savepoints of one): a later failure keeps earlier ones."""
    from wacrm.db.migrate import upgrade_agents

    with psycopg.connect(db_url, row_factory=dict_row, autocommit=True) as conn:
        uid = conn.execute(
            "INSERT INTO users (name, email, role) VALUES ('a', 'a@b.co', 'admin') RETURNING id"
        ).fetchone()["id"]
        conn.execute(
            "INSERT INTO agents (agent_prefix, created_by)"
            " SELECT 'agt_u' || i, %s FROM generate_series(1, 4) i",
            (uid,),
        )
    with psycopg.connect(db_url) as conn:  # not autocommit, as in migrate()
        assert upgrade_agents(conn, batch_size=2) == 4
        with psycopg.connect(db_url) as other:
            cur = other.execute("SELECT count(DISTINCT agent_id) FROM agent_schema_applied")
            assert cur.fetchone()[0] == 4
        assert upgrade_agents(conn) == 0


@pytest.fixture
def cli_env(db_url, monkeypatch, tmp_path):
    from wacrm.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WACRM_SECRET_KEY", "cli-test-key-0123456789-abcdefghijklmnop")
    monkeypatch.delenv("WACRM_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("WACRM_ADMIN_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_agent_import_cli(cli_env, sync_conn) -> None:
    import json

    from typer.testing import CliRunner

    from wacrm.cli.main import app as cli

    def user(email: str, role: str) -> Any:
        return sync_conn.execute(
            "INSERT INTO users (name, email, role) VALUES ('x', %s, %s) RETURNING id", (email, role)
        ).fetchone()["id"]

    user("boss@example.com", "admin")
    ann = user("ann@example.com", "agent")
    csv_path = cli_env / "agents.csv"
    csv_path.write_text("user,prefix,currency\nAnn@Example.com,agt_ann,eur\n,,\n,agt_shop2,\n")
    result = CliRunner().invoke(cli, ["agent", "import", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["created"] == 3
    first, second, third = data["agents"]
    assert first["agent_prefix"] == "agt_ann" and first["user_id"] == str(ann)
    assert second["agent_prefix"] == f"agt_{second['id']}" and third["agent_prefix"] == "agt_shop2"
    cur = sync_conn.execute("SELECT default_currency FROM agents WHERE agent_prefix = 'agt_ann'")
    assert cur.fetchone()["default_currency"] == "EUR"

    result = CliRunner().invoke(cli, ["agent", "import", "--count", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["created"] == 4

    bad = cli_env / "bad.csv"
    bad.write_text("user,prefix\n,agt_fresh\nnobody@example.com,\n")
    result = CliRunner().invoke(cli, ["agent", "import", str(bad)])
    assert result.exit_code == 1 and "no user with email nobody@example.com" in result.output
    bad.write_text("prefix\nagt_fresh\nagt_shop2\n")
    result = CliRunner().invoke(cli, ["agent", "import", str(bad)])
    assert result.exit_code == 1 and "agt_shop2 already exists" in result.output
    assert (
        sync_conn.execute("SELECT count(*) AS n FROM agents").fetchone()["n"] == 7
    )  # nothing of the refused files was created
