"""New agents' tables from the template of the steps (migration 0038), compared with replayed steps."""

from __future__ import annotations

import re
from typing import Any

from tests.agents.catalogue import create_agent_by_steps, fingerprint
from tests.helpers import make_user
from wacrm.agents.service import AgentSpec, create_agent, create_agents
from wacrm.db.migrate import Migration, database_dir, discover, migrate


async def _template(conn: Any) -> dict[str, Any]:
    cur = await conn.execute("SELECT * FROM wacrm_agent_template()")
    return dict(await cur.fetchone())


async def _applied(conn: Any, agent: dict[str, Any]) -> list[int]:
    cur = await conn.execute(
        "SELECT version FROM agent_schema_applied WHERE agent_id = %s ORDER BY version",
        (agent["id"],),
    )
    return [r["version"] for r in await cur.fetchall()]


async def _dropped_columns(conn: Any, agent: dict[str, Any]) -> int:
    cur = await conn.execute(
        """SELECT count(*) AS n FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE starts_with(c.relname, %s) AND a.attisdropped""",
        (agent["agent_prefix"] + "_",),
    )
    return int((await cur.fetchone())["n"])


async def _agent(conn: Any, agent_id: int) -> dict[str, Any]:
    cur = await conn.execute("SELECT * FROM agents WHERE id = %s", (agent_id,))
    return dict(await cur.fetchone())


async def test_new_agent_has_the_tables_the_steps_make(conn) -> None:
    """Entry by entry: tables, columns in order, constraints, indexes, triggers, sequences."""
    admin = await make_user(conn)
    template = await _template(conn)
    assert template["statements"] and template["unusable_reason"] is None
    new = await create_agent(conn, created_by=admin)
    replayed = await create_agent_by_steps(conn, created_by=admin)
    new_print, replayed_print = await fingerprint(conn, new), await fingerprint(conn, replayed)
    assert len(new_print) > 150
    assert new_print == replayed_print
    assert await _applied(conn, new) == await _applied(conn, replayed) == template["steps"]
    assert new["schema_version"] == replayed["schema_version"] == max(template["steps"])
    # two different paths really ran: step 2 drops orders_items.total and adds it again
    assert (await _dropped_columns(conn, new), await _dropped_columns(conn, replayed)) == (0, 1)
    # no ALTER that changes a column: only constraints added to tables just created
    alters = [s for s in template["statements"] if s.startswith("ALTER TABLE")]
    assert alters and all(" ADD CONSTRAINT " in s and " COLUMN " not in s for s in alters)


async def test_a_replaced_step_body_makes_a_new_template(conn) -> None:
    """As 0035 replaced step 2's body: the next agent is made from a template of the new body."""
    admin = await make_user(conn)
    before = await _template(conn)
    text = (database_dir() / "migrations" / "0031_reports_indexes.sql").read_text()
    body = text[: text.index("INSERT INTO agent_schema_steps")]
    changed = body.replace("(created_at);", "(created_at DESC);")
    assert changed != body
    await conn.execute(changed.encode())
    after = await _template(conn)
    assert after["steps_key"] != before["steps_key"] and after["statements"]
    new = await create_agent(conn, created_by=admin)
    replayed = await create_agent_by_steps(conn, created_by=admin)
    new_print = await fingerprint(conn, new)
    assert any("_customers_created_idx" in line and "created_at DESC" in line for line in new_print)
    assert new_print == await fingerprint(conn, replayed)


async def test_new_agents_tables_work(conn) -> None:
    """The id default, the sequences, the generated total and the triggers of a template agent."""
    admin = await make_user(conn)
    (agent,) = await create_agents(conn, created_by=admin, specs=[AgentSpec()])
    p = agent["agent_prefix"]
    await conn.execute(f"INSERT INTO {p}_customers (name, phone) VALUES ('Ann', '+1')")
    await conn.execute(
        f"INSERT INTO {p}_orders (customer_id) VALUES (1);"
        f"INSERT INTO {p}_orders_items (order_id, name, quantity, price) VALUES (1, 'x', 3, 2.5)"
    )
    cur = await conn.execute(
        f"SELECT c.agent_id, o.total_amount FROM {p}_customers c JOIN {p}_orders o ON o.customer_id = c.id"
    )
    assert await cur.fetchone() == {"agent_id": agent["id"], "total_amount": 7.5}


LATER_STEP = """
CREATE FUNCTION wacrm_agent_step_9004(p text, a_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN nickname text COLLATE "C";
    COMMENT ON COLUMN %1$I.nickname IS 'what the agent calls the customer';
    ALTER TABLE %1$I ADD CONSTRAINT %2$I CHECK (length(nickname) < 50) NOT VALID;
    COMMENT ON CONSTRAINT %2$I ON %1$I IS 'at most 49 characters (100%% sure)';
    CREATE INDEX %3$I ON %1$I (upper(nickname)) WHERE nickname IS NOT NULL;
    COMMENT ON INDEX %3$I IS 'nickname search';
    CREATE TABLE %4$I (
      id serial PRIMARY KEY,
      customer_id integer NOT NULL REFERENCES %1$I(id) ON DELETE CASCADE,
      label varchar(20) NOT NULL DEFAULT 'x' CHECK (label IN ('x', 'y')),
      owner bigint NOT NULL DEFAULT %5$s::bigint,
      UNIQUE (customer_id, label)
    );
    COMMENT ON TABLE %4$I IS 'labels of a customer';
    CREATE TRIGGER %6$I BEFORE UPDATE ON %4$I FOR EACH ROW WHEN (NEW.label = 'y')
      EXECUTE FUNCTION suppress_redundant_updates_trigger();
    COMMENT ON TRIGGER %6$I ON %4$I IS 'skip no-op updates';
  $ddl$, p || '_customers', p || '_customers_nickname_check', p || '_customers_nickname_idx',
     p || '_labels', a_id, p || '_labels_quiet');
END $$;
INSERT INTO agent_schema_steps VALUES (9004, 'wacrm_agent_step_9004', 'test: a later step');
"""


async def test_a_later_step_reaches_old_and_new_agents_alike(db_url: str, conn) -> None:
    """An agent made before a step (upgraded by migrate), one made after, one made by the steps."""
    admin = await make_user(conn)
    before = await create_agent(conn, created_by=admin)
    old_steps = (await _template(conn))["steps"]
    assert migrate(db_url, [*discover(), Migration(9004, "later_step", LATER_STEP)])
    after = await create_agent(conn, created_by=admin)
    template = await _template(conn)
    assert template["unusable_reason"] is None and template["steps"] == [*old_steps, 9004]
    replayed = await create_agent_by_steps(conn, created_by=admin)
    before = await _agent(conn, before["id"])
    prints = [await fingerprint(conn, a) for a in (before, after, replayed)]
    assert "comment trigger <p>_labels_quiet: skip no-op updates" in prints[0]
    assert prints[0] == prints[1] == prints[2]
    assert {a["schema_version"] for a in (before, after, replayed)} == {9004}
    assert await _applied(conn, before) == await _applied(conn, after) == template["steps"]
    assert await _dropped_columns(conn, after) == 0


UNREPRODUCIBLE_STEP = """
CREATE FUNCTION wacrm_agent_step_9005(p text, a_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I SET (fillfactor = 70)', p || '_orders');
END $$;
INSERT INTO agent_schema_steps VALUES (9005, 'wacrm_agent_step_9005', 'test: storage options');
"""


async def test_a_step_the_template_cannot_copy_makes_new_agents_replay_the_steps(
    db_url: str, conn
) -> None:
    admin = await make_user(conn)
    migrate(db_url, [*discover(), Migration(9005, "unreproducible", UNREPRODUCIBLE_STEP)])
    template = await _template(conn)
    assert template["statements"] is None
    assert "fillfactor=70" in template["unusable_reason"]
    new = await create_agent(conn, created_by=admin)
    replayed = await create_agent_by_steps(conn, created_by=admin)
    assert await fingerprint(conn, new) == await fingerprint(conn, replayed)
    assert await _dropped_columns(conn, new) == 1  # made by the steps
    assert await _applied(conn, new) == template["steps"]


# A per-agent step runs once per existing agent. On this server (PostgreSQL 15.20) an ALTER that
# adds a column with a DEFAULT (or generated, or identity) or changes a column's type reads every
# index expression of the database: ~63 ms per table at 5,000 agents (docs/performance.md).
# Steps add nullable columns without a default; a trigger or a batched UPDATE fills them.
COSTLY_ALTER = [
    (
        re.compile(
            r"ADD\s+COLUMN\b[^,;]*?\b(DEFAULT|GENERATED|IDENTITY|SERIAL|BIGSERIAL)\b", re.I | re.S
        ),
        "adds a column with a default",
    ),
    (re.compile(r"ALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b", re.I), "changes a column's type"),
]
GRANDFATHERED = {
    2: "the seed's faults, before the rule (new agents no longer run it)",
    32: "TYPE ... USING only for a table of more than 1,000 messages: one rewrite fills the vector",
}
STEP_FUNCTION = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+wacrm_agent_step_(\d+)\b.*?\$\$(.*?)\$\$", re.S | re.I
)


def costly_alters(sql: str) -> list[str]:
    """'step N: what' for each per-agent step in `sql` that runs a costly ALTER."""
    found = []
    for match in STEP_FUNCTION.finditer(sql):
        version, body = int(match.group(1)), match.group(2)
        for pattern, what in COSTLY_ALTER:
            if version not in GRANDFATHERED and pattern.search(body):
                found.append(f"step {version}: {what}")
    return found


def test_per_agent_steps_add_nullable_columns_without_default() -> None:
    found = []
    for path in sorted((database_dir() / "migrations").glob("*.sql")):
        found += [f"{path.name}: {f}" for f in costly_alters(path.read_text())]
    assert found == []
    assert costly_alters(UNREPRODUCIBLE_STEP + LATER_STEP) == []
    bad = LATER_STEP.replace('nickname text COLLATE "C"', "nickname text NOT NULL DEFAULT ''")
    assert costly_alters(bad) == ["step 9004: adds a column with a default"]
    bad = UNREPRODUCIBLE_STEP.replace("SET (fillfactor = 70)", "ALTER COLUMN notes TYPE varchar")
    assert costly_alters(bad) == ["step 9005: changes a column's type"]
