"""Every seed table and column exists with the seed's type and constraints (deviations listed)."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.helpers import SEED_SQL, columns, constraints, make_user
from wacrm.agents.service import create_agent

# (table suffix, column) -> what we changed on purpose (docs/schema.md explains each).
DEVIATIONS = {
    ("customers", "created_at"): "timestamptz",
    ("customers", "phone"): "nullable (BSUID-only customers)",
    ("customers", "agent_id"): "defaults to the owning agent",
    ("messages", "timestamp"): "timestamptz",
    ("orders", "created_at"): "timestamptz, NOT NULL",
    ("orders", "updated_at"): "timestamptz, NOT NULL",
    ("orders", "status"): "NOT NULL, checked against the workflow's statuses",
    ("orders_items", "created_at"): "timestamptz",
    ("orders_items", "total"): "generated column",
}


@pytest.fixture
def seed_url(empty_db_url: str) -> str:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(SEED_SQL.encode())
    return empty_db_url


@pytest.mark.parametrize("table", ["users", "agents", "whatsapp_configuration"])
def test_core_tables_keep_every_seed_column(table: str, seed_url: str, db_url: str) -> None:
    seed, ours = columns(seed_url, table), columns(db_url, table)
    for name, spec in seed.items():
        assert name in ours, f"{table}.{name} missing"
        assert ours[name]["type"] == spec["type"], (table, name)
        assert ours[name]["nullable"] == spec["nullable"], (table, name)
        assert ours[name]["default"] == spec["default"], (table, name)
    assert constraints(seed_url, table) <= constraints(db_url, table)


@pytest.mark.parametrize("suffix", ["customers", "messages", "orders", "orders_items"])
async def test_agent_tables_keep_every_seed_column(
    suffix: str, seed_url: str, db_url: str, conn
) -> None:
    admin = await make_user(conn)
    agent = await create_agent(conn, created_by=admin, prefix="agt_77")
    seed = columns(seed_url, f"agt_3784_{suffix}")
    ours = columns(db_url, f"agt_77_{suffix}")
    for name, spec in seed.items():
        assert name in ours, f"{suffix}.{name} missing"
        deviation = DEVIATIONS.get((suffix, name))
        if deviation and deviation.startswith("timestamptz"):
            assert spec["type"] == "timestamp without time zone"
            assert ours[name]["type"] == "timestamp with time zone"
            assert ours[name]["nullable"] == ("NOT NULL" not in deviation)
            continue
        if deviation and deviation.startswith("NOT NULL"):
            assert spec["nullable"] and not ours[name]["nullable"]
            assert ours[name]["type"] == spec["type"] and ours[name]["default"] == spec["default"]
            continue
        if deviation == "generated column":
            assert ours[name]["generated"] and "quantity" in ours[name]["expression"]
            continue
        if deviation == "nullable (BSUID-only customers)":
            assert ours[name]["nullable"] and not spec["nullable"]
            continue
        if deviation == "defaults to the owning agent":
            assert re.fullmatch(rf"\(?{agent['id']}\)?::bigint", ours[name]["default"])
            continue
        assert ours[name]["type"] == spec["type"], (suffix, name)
        assert ours[name]["nullable"] == spec["nullable"], (suffix, name)
        if spec["default"] and "nextval" in spec["default"]:
            assert "nextval" in ours[name]["default"]
        else:
            assert ours[name]["default"] == spec["default"], (suffix, name)
    seed_checks = {
        d.replace("agt_3784", "agt_77") for t, d in constraints(seed_url, f"agt_3784_{suffix}")
    }
    our_checks = {d for t, d in constraints(db_url, f"agt_77_{suffix}")}
    assert seed_checks <= our_checks


def test_generated_total_is_quantity_times_price(db_url: str, sync_conn) -> None:
    sync_conn.execute("INSERT INTO users (name, email, role) VALUES ('a', 'a@b.co', 'admin')")
    uid = sync_conn.execute("SELECT id FROM users").fetchone()["id"]
    sync_conn.execute("INSERT INTO agents (agent_prefix, created_by) VALUES ('agt_5', %s)", (uid,))
    sync_conn.execute("SELECT wacrm_upgrade_agent((SELECT id FROM agents))")
    cid = sync_conn.execute(
        "INSERT INTO agt_5_customers (name, phone) VALUES ('c', '+4915123456789') RETURNING id"
    ).fetchone()["id"]
    oid = sync_conn.execute(
        "INSERT INTO agt_5_orders (customer_id) VALUES (%s) RETURNING id", (cid,)
    ).fetchone()["id"]
    row = sync_conn.execute(
        "INSERT INTO agt_5_orders_items (order_id, name, quantity, price) VALUES (%s, 'x', 3, 2.50) RETURNING total",
        (oid,),
    ).fetchone()
    assert str(row["total"]) == "7.50"
    with pytest.raises(psycopg.errors.CheckViolation):
        sync_conn.execute(
            "INSERT INTO agt_5_orders_items (order_id, name, quantity, price) VALUES (%s, 'x', 0, 1)",
            (oid,),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        sync_conn.execute("INSERT INTO agt_5_customers (name) VALUES ('nobody')")
    sync_conn.execute(
        "INSERT INTO agt_5_customers (name, bsuid) VALUES ('hidden', 'US.1349120865530274191')"
    )


def test_enums(db_url: str, sync_conn) -> None:
    rows = sync_conn.execute(
        "SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels FROM pg_type t "
        "JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"
    ).fetchall()
    enums = {r["typname"]: r["labels"] for r in rows}
    assert enums["user_role"] == ["admin", "agent"]
    for label in [
        "none",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "reaction",
        "order",
    ]:
        assert label in enums["media_type"]
