"""Creating agents: tables from one definition, atomic, validated prefixes, later migrations."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import make_user
from wacrm.agents.service import AgentError, create_agent
from wacrm.agents.tables import InvalidPrefixError, validate_prefix
from wacrm.db.migrate import Migration, discover, migrate

HOSTILE = [
    "agt_",
    "AGT_1",
    "agt_1; DROP TABLE users",
    'agt_1"',
    "agt_" + "a" * 33,
    "x_1",
    "agt-1",
    "agt_1\x00",
    "agt_é",
    " agt_1",
    "agt_1 ",
    "",
    "agt_1_",
]


async def _tables(conn, prefix: str) -> set[str]:
    cur = await conn.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind IN ('r', 'S')",
        (prefix + "\\_%",),
    )
    return {r["relname"] for r in await cur.fetchall()}


@pytest.mark.parametrize("prefix", HOSTILE)
async def test_hostile_prefixes_are_refused_before_any_sql(prefix: str, conn) -> None:
    with pytest.raises(InvalidPrefixError, match="must match"):
        validate_prefix(prefix)
    admin = await make_user(conn)
    with pytest.raises(InvalidPrefixError):
        await create_agent(conn, created_by=admin, prefix=prefix)
    cur = await conn.execute("SELECT count(*) AS n FROM agents")
    assert (await cur.fetchone())["n"] == 0


async def test_hostile_prefix_refused_by_the_database_too(conn) -> None:
    admin = await make_user(conn)
    with pytest.raises(psycopg.errors.CheckViolation):
        await conn.execute(
            "INSERT INTO agents (agent_prefix, created_by) VALUES ('agt_x; drop', %s)", (admin,)
        )


async def test_default_prefix_is_agt_id_and_tables_exist(conn) -> None:
    admin = await make_user(conn)
    agent = await create_agent(conn, created_by=admin)
    assert agent["agent_prefix"] == f"agt_{agent['id']}"
    cur = await conn.execute("SELECT max(version) AS v FROM agent_schema_steps")
    assert agent["schema_version"] == (await cur.fetchone())["v"]
    names = await _tables(conn, agent["agent_prefix"])
    for suffix in ("customers", "messages", "orders", "orders_items", "orders_history"):
        assert f"{agent['agent_prefix']}_{suffix}" in names


async def test_duplicate_prefix_and_unknown_user(conn) -> None:
    admin = await make_user(conn)
    await create_agent(conn, created_by=admin, prefix="agt_3784")
    with pytest.raises(AgentError, match="already exists"):
        await create_agent(conn, created_by=admin, prefix="agt_3784")
    import uuid

    with pytest.raises(AgentError, match="no user"):
        await create_agent(conn, created_by=admin, user_id=uuid.uuid4())


async def test_one_agent_per_user(conn) -> None:
    admin = await make_user(conn)
    user = await make_user(conn, "agent@example.com", "agent")
    await create_agent(conn, created_by=admin, user_id=user)
    with pytest.raises(AgentError, match="already linked"):
        await create_agent(conn, created_by=admin, user_id=user)


async def test_provisioning_is_atomic(conn) -> None:
    """A failure halfway (a table name already taken) leaves neither the agent row nor any table."""
    admin = await make_user(conn)
    await conn.execute("CREATE TABLE agt_half_orders (id int)")  # step 1 will collide here
    with pytest.raises(psycopg.errors.DuplicateTable):
        await create_agent(conn, created_by=admin, prefix="agt_half")
    assert await _tables(conn, "agt_half") == {"agt_half_orders"}
    cur = await conn.execute("SELECT count(*) AS n FROM agents")
    assert (await cur.fetchone())["n"] == 0


def test_migrations_are_idempotent(db_url: str) -> None:
    assert migrate(db_url) == []
    assert migrate(db_url) == []


async def test_later_per_agent_migration_reaches_every_agent(db_url: str, conn) -> None:
    admin = await make_user(conn)
    prefixes = [(await create_agent(conn, created_by=admin))["agent_prefix"] for _ in range(3)]
    later = Migration(
        9001,
        "test_agent_column",
        """
        CREATE FUNCTION wacrm_agent_step_9001(p text, a_id bigint) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN loyalty_points integer NOT NULL DEFAULT 0', p || '_customers'); END $$;
        INSERT INTO agent_schema_steps VALUES (9001, 'wacrm_agent_step_9001', 'test');
        """,
    )
    applied = migrate(db_url, discover() + [later])
    assert [m.version for m in applied] == [9001]
    for prefix in prefixes:
        cur = await conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'loyalty_points'",
            (f"{prefix}_customers",),
        )
        assert await cur.fetchone() is not None, prefix
    cur = await conn.execute("SELECT DISTINCT schema_version FROM agents")
    assert [r["schema_version"] for r in await cur.fetchall()] == [9001]
    # a new agent gets the same column from the same step
    fresh = await create_agent(conn, created_by=admin)
    cur = await conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'loyalty_points'",
        (f"{fresh['agent_prefix']}_customers",),
    )
    assert await cur.fetchone() is not None


async def test_a_step_numbered_below_applied_ones_still_reaches_every_agent(
    db_url: str, conn
) -> None:
    """Steps are a set per agent: a late step with a lower number is not skipped."""
    admin = await make_user(conn)
    agent = await create_agent(conn, created_by=admin)
    low = Migration(
        9002,  # its agent step (11) is numbered below steps already applied (20, 25)
        "late_low_step",
        """
        CREATE FUNCTION wacrm_agent_step_0011(p text, a_id bigint) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN late_flag boolean', p || '_orders'); END $$;
        INSERT INTO agent_schema_steps VALUES (11, 'wacrm_agent_step_0011', 'late low step');
        """,
    )
    migrate(db_url, discover() + [low])
    cur = await conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'late_flag'",
        (f"{agent['agent_prefix']}_orders",),
    )
    assert await cur.fetchone() is not None
    cur = await conn.execute(
        "SELECT version FROM agent_schema_applied WHERE agent_id = %s", (agent["id"],)
    )
    assert 11 in {r["version"] for r in await cur.fetchall()}


async def test_new_agents_take_the_configured_default_currency(conn) -> None:
    admin = await make_user(conn)
    assert (await create_agent(conn, created_by=admin))["default_currency"] == "USD"
    assert (await create_agent(conn, created_by=admin, fallback_currency="EUR"))[
        "default_currency"
    ] == "EUR"
    assert (
        await create_agent(conn, created_by=admin, default_currency="JPY", fallback_currency="EUR")
    )["default_currency"] == "JPY"


async def test_concurrent_creations_do_not_deadlock(db_url: str, conn) -> None:
    """Several agents created at once on separate connections all succeed (they used to deadlock)."""
    import asyncio

    from psycopg.rows import dict_row

    admin = await make_user(conn)
    conns = [
        await psycopg.AsyncConnection.connect(db_url, row_factory=dict_row, autocommit=True)
        for _ in range(8)
    ]
    try:
        created = await asyncio.gather(*(create_agent(c, created_by=admin) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert len({a["id"] for a in created}) == 8
    for agent in created:
        names = await _tables(conn, agent["agent_prefix"])
        assert f"{agent['agent_prefix']}_messages" in names


async def test_concurrent_creations_with_one_prefix_give_one_agent_and_a_409(
    db_url: str, conn
) -> None:
    import asyncio

    from psycopg.rows import dict_row

    admin = await make_user(conn)
    conns = [
        await psycopg.AsyncConnection.connect(db_url, row_factory=dict_row, autocommit=True)
        for _ in range(3)
    ]
    try:
        results = await asyncio.gather(
            *(create_agent(c, created_by=admin, prefix="agt_same") for c in conns),
            return_exceptions=True,
        )
    finally:
        for c in conns:
            await c.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 2 and all(
        isinstance(e, AgentError) and e.status == 409 for e in errors
    ), errors
    cur = await conn.execute("SELECT count(*) AS n FROM agents WHERE agent_prefix = 'agt_same'")
    assert (await cur.fetchone())["n"] == 1
