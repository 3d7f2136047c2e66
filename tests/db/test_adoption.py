"""`wacrm migrate` adopts a database made with the seed's own SQL, keeping every row."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.helpers import SEED_SQL, columns
from wacrm.db.migrate import DatabaseAheadError, migrate, status, unregistered_agent_tables

FILL = """
INSERT INTO users (id, name, email, role, created_at) VALUES
  ('11111111-1111-1111-1111-111111111111', 'Ada Admin', 'ada@shop.example', 'admin', '2025-01-02 10:00+00'),
  ('22222222-2222-2222-2222-222222222222', 'Sam Sales', 'sam@shop.example', 'agent', '2025-01-03 10:00+00');
SELECT setval('agents_id_seq', 100);
INSERT INTO agents (id, agent_prefix, user_id, created_by) VALUES
  (62, 'agt_3784', '22222222-2222-2222-2222-222222222222', '11111111-1111-1111-1111-111111111111');
INSERT INTO whatsapp_configuration (user_id, whatsapp_number, webhook_url, api_key, business_account_id, phone_number_id)
  VALUES ('22222222-2222-2222-2222-222222222222', '+15550001111', 'https://old.example/hook', 'EAAG-old', '999', '12345');
INSERT INTO agt_3784_customers (agent_id, name, phone, created_at) VALUES
  (62, 'Jonas', '+4915123456789', '2025-02-01 08:30:00'),
  (62, 'Mia', '+4915111111111', '2025-02-02 09:00:00');
INSERT INTO agt_3784_messages (customer_id, message, direction, "timestamp", is_read, media_type) VALUES
  (1, 'Hello', 'inbound', '2025-02-01 08:31:00', true, 'none'),
  (1, 'Hi Jonas!', 'outbound', '2025-02-01 08:32:00', true, 'none'),
  (2, 'photo', 'inbound', '2025-02-02 09:01:00', false, 'image');
INSERT INTO agt_3784_orders (customer_id, total_amount, status, notes, created_at, updated_at) VALUES
  (1, 25.00, 'confirmed', 'gift wrap', '2025-02-01 09:00:00', '2025-02-01 09:05:00'),
  (2, 0, 'Completed', NULL, '2025-01-05 09:00:00', '2025-01-06 09:00:00'),
  (2, 0, 'awaiting stock', NULL, '2025-01-07 09:00:00', NULL);
INSERT INTO agt_3784_orders_items (order_id, name, quantity, price, total, created_at) VALUES
  (1, 'Mug', 2, 7.50, 15.00, '2025-02-01 09:00:00'),
  (1, 'Card', 1, 10.00, 10.00, '2025-02-01 09:00:00');
-- an agent table set without an agents row: reported, left alone
CREATE TABLE agt_old_customers (id serial PRIMARY KEY, name text);
"""

COUNTS = [
    "users",
    "agents",
    "whatsapp_configuration",
    "agt_3784_customers",
    "agt_3784_messages",
    "agt_3784_orders",
    "agt_3784_orders_items",
]


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTS}


@pytest.fixture
def seeded_url(empty_db_url: str) -> str:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(SEED_SQL.encode())
        conn.execute(FILL.encode())
    return empty_db_url


def test_adopts_seed_database_and_keeps_rows(seeded_url: str) -> None:
    before = _counts(seeded_url)
    migrate(seeded_url)
    assert _counts(seeded_url) == before
    assert status(seeded_url) == ([], [])
    with psycopg.connect(seeded_url, row_factory=dict_row) as conn:
        agent = conn.execute("SELECT * FROM agents WHERE id = 62").fetchone()
        newest = conn.execute("SELECT max(version) AS v FROM agent_schema_steps").fetchone()["v"]
        assert agent["agent_prefix"] == "agt_3784" and agent["schema_version"] == newest
        customer = conn.execute("SELECT * FROM agt_3784_customers WHERE id = 1").fetchone()
        assert customer["name"] == "Jonas" and customer["phone"] == "+4915123456789"
        assert customer["created_at"].isoformat() == "2025-02-01T08:30:00+00:00"
        msgs = conn.execute(
            'SELECT message, "timestamp" FROM agt_3784_messages ORDER BY id'
        ).fetchall()
        assert [m["message"] for m in msgs] == ["Hello", "Hi Jonas!", "photo"]
        assert msgs[0]["timestamp"].tzinfo is not None
        items = conn.execute("SELECT name, total FROM agt_3784_orders_items ORDER BY id").fetchall()
        assert [(i["name"], i["total"]) for i in items] == [
            ("Mug", Decimal("15.00")),
            ("Card", Decimal("10.00")),
        ]
        orders = conn.execute(
            "SELECT total_amount, status, legacy_status, notes FROM agt_3784_orders ORDER BY id"
        ).fetchall()
        assert orders[0] == {
            "total_amount": Decimal("25.00"),
            "status": "confirmed",
            "legacy_status": None,
            "notes": "gift wrap",
        }
        # statuses outside the workflow are mapped onto it, the original kept
        assert [(o["status"], o["legacy_status"]) for o in orders[1:]] == [
            ("delivered", "Completed"),
            ("pending", "awaiting stock"),
        ]
        new = conn.execute(
            "INSERT INTO agt_3784_customers (name, phone) VALUES ('New', '+4917000000000') RETURNING agent_id"
        ).fetchone()
        assert new["agent_id"] == 62  # defaults to the owning agent, not the seed's literal
        config = conn.execute(
            "SELECT api_key, phone_number_id FROM whatsapp_configuration"
        ).fetchone()
        assert config["phone_number_id"] == "12345"
    cols = columns(seeded_url, "agt_3784_orders_items")
    assert cols["total"]["generated"]
    assert cols["created_at"]["type"] == "timestamp with time zone"
    assert unregistered_agent_tables(seeded_url) == ["agt_old"]
    assert migrate(seeded_url) == []  # idempotent


def test_seed_prefix_with_trailing_underscore_is_normalised(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(SEED_SQL.encode())
        conn.execute(FILL.replace("'agt_3784', '2222", "'agt_3784_', '2222").encode())
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        newest = conn.execute("SELECT max(version) FROM agent_schema_steps").fetchone()[0]
        row = conn.execute("SELECT agent_prefix, schema_version FROM agents").fetchone()
        assert row == ("agt_3784", newest)


def test_database_ahead_of_code_is_refused(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
    with pytest.raises(DatabaseAheadError, match="9999"):
        migrate(db_url)
