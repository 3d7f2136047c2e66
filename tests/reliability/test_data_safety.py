"""Backup and restore of one agent, and erasing one customer's data (docs/operations.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.cli.test_serve import env_for
from tests.helpers import make_agent_user
from wacrm.agents.service import drop_agent
from wacrm.media.store import FolderStore, media_key
from wacrm.ops.backup import BackupError, backup_agent, check_totals, restore_agent
from wacrm.ops.erase import CustomerNotFoundError, erase_customer, erasure_plan
from wacrm.ops.shared_rows import shared_tables
from wacrm.orders import service as orders

WACRM = [sys.executable, "-m", "wacrm"]


async def _customer(conn: Any, tables: Any, name: str, phone: str) -> int:
    cur = await conn.execute(
        tables.query(
            "INSERT INTO {customers} (name, phone, bsuid) VALUES (%s, %s, %s) RETURNING id"
        ),
        (name, phone, f"US.{phone}"),
    )
    return int((await cur.fetchone())["id"])


async def _message(conn: Any, tables: Any, customer_id: int, text: str, wamid: str) -> int:
    cur = await conn.execute(
        tables.query(
            """INSERT INTO {messages} (customer_id, message, direction, wamid, wa_type, media_status,
                 raw, "timestamp") VALUES (%s, %s, 'inbound', %s, 'image', 'ready', %s, now())
               RETURNING id"""
        ),
        (customer_id, text, wamid, json.dumps({"text": text, "emoji": "📦", "tab": "a\tb\\n"})),
    )
    mid = int((await cur.fetchone())["id"])
    await conn.execute(
        tables.query(
            "UPDATE {customers} SET last_message_id = %s, last_message_at = now() WHERE id = %s"
        ),
        (mid, customer_id),
    )
    return mid


async def populate(
    conn: Any, store: FolderStore, email: str = "keeper@example.com"
) -> dict[str, Any]:
    """An agent with two customers, messages with media files, orders with items and history."""
    agent = await make_agent_user(conn, email)
    t = agent["tables"]
    ids: dict[str, Any] = {"agent": agent, "customers": [], "messages": [], "orders": []}
    for n, (name, phone) in enumerate(
        [("Ann O'Neil", "4915100000001"), ('Bo "B" Li', "4915100000002")]
    ):
        cid = await _customer(conn, t, name, phone)
        ids["customers"].append(cid)
        for k in range(3):
            mid = await _message(
                conn, t, cid, f"line {k}\nof {name}, NULL \\N", f"wamid.{n}.{k}.{phone}"
            )
            ids["messages"].append(mid)
            await store.put(media_key(agent["agent"]["id"], mid), f"bytes of {mid}".encode())
        order = await orders.create_order(
            conn,
            tables=t,
            customer_id=cid,
            items=[
                {"name": "Mug", "quantity": 2, "price": Decimal("12.50")},
                {"name": "Plate", "quantity": 3, "price": Decimal("7.33")},
            ],
            message_id=ids["messages"][-1],
        )
        await orders.change_status(
            conn, tables=t, order_id=order["id"], status="confirmed", actor_id=agent["user_id"]
        )
        ids["orders"].append(order["id"])
    return ids


async def snapshot(conn: Any, agent_id: int, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the agent's tables and shared rows, in a stable order (some tables have no id)."""
    cur = await conn.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND starts_with(relname, %s) ORDER BY 1",
        (prefix + "_",),
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for (name,) in [(r["relname"],) for r in await cur.fetchall()]:
        rows = await conn.execute(
            sql.SQL("SELECT * FROM {0} AS t ORDER BY t::text").format(sql.Identifier(name))
        )
        out[name] = [dict(r) for r in await rows.fetchall()]
    for table, key in [("agents", "id")] + [(t, "agent_id") for t in await shared_tables(conn)]:
        rows = await conn.execute(
            sql.SQL("SELECT * FROM {} AS t WHERE {} = %s ORDER BY t::text").format(
                sql.Identifier(table), sql.Identifier(key)
            ),
            (agent_id,),
        )
        out[table] = [dict(r) for r in await rows.fetchall()]
    return out


async def test_backup_drop_restore_is_identical(conn: Any, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "media")
    ids = await populate(conn, store)
    agent = ids["agent"]["agent"]
    neighbour = await populate(conn, store, "neighbour@example.com")  # untouched by all this
    # workspace rows in shared tables: a member (the neighbour), a label, a canned response
    await conn.execute(
        "INSERT INTO agent_members (agent_id, user_id) VALUES (%s, %s)",
        (agent["id"], neighbour["agent"]["user_id"]),
    )
    await conn.execute(
        "INSERT INTO workspace_labels (agent_id, name, color) VALUES (%s, 'vip', '#aa0000')",
        (agent["id"],),
    )
    await conn.execute(
        "INSERT INTO canned_responses (agent_id, shortcut, body) VALUES (%s, 'hi', 'Hello')",
        (agent["id"],),
    )
    await conn.execute(
        "INSERT INTO order_notification_settings (agent_id, text_template) VALUES (%s, 'Order {order_id}: {status}')",
        (agent["id"],),
    )
    await conn.execute(
        """INSERT INTO outbound_media (agent_id, kind, filename, mime_type, size, sha256, data)
           VALUES (%s, 'image', 'a.png', 'image/png', 3, 'x', '\\x000102')""",
        (agent["id"],),
    )
    before = await snapshot(conn, agent["id"], agent["agent_prefix"])
    assert len(before[f"{agent['agent_prefix']}_messages"]) >= 6  # + status notifications
    assert before[f"{agent['agent_prefix']}_orders"][0]["total_amount"] == Decimal("46.99")

    out = tmp_path / "agent.tar.gz"
    manifest = await backup_agent(
        conn, prefix=agent["agent_prefix"], out=out, media_root=tmp_path / "media"
    )
    assert {t["suffix"] for t in manifest["tables"]} >= {
        "customers",
        "messages",
        "orders",
        "orders_items",
        "orders_history",
    }
    assert len(manifest["media"]) == 6

    dropped = await drop_agent(conn, agent_id=agent["id"], confirm=agent["agent_prefix"])
    assert sorted(dropped) == sorted(t for t in before if t.startswith(agent["agent_prefix"]))
    for f in (tmp_path / "media" / str(agent["id"])).iterdir():
        f.unlink()
    assert (await snapshot(conn, agent["id"], agent["agent_prefix"]))["agents"] == []

    await restore_agent(conn, path=out, media_root=tmp_path / "media")
    after = await snapshot(conn, agent["id"], agent["agent_prefix"])
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    for mid in ids["messages"]:
        assert await store.get(media_key(agent["id"], mid)) == f"bytes of {mid}".encode()
    await check_totals(conn, prefix=agent["agent_prefix"])
    # the inbox's kept counts (rebuilt: the tables were loaded with their triggers off)
    cur = await conn.execute(
        "SELECT sum(n) AS n FROM conversation_counts WHERE agent_id = %s AND label_id = 0",
        (agent["id"],),
    )
    assert (await cur.fetchone())["n"] == len(before[f"{agent['agent_prefix']}_customers"]) > 0

    # the restored agent works: new rows get fresh ids, totals follow items again
    t = ids["agent"]["tables"]
    await orders.add_item(
        conn, tables=t, order_id=ids["orders"][0], name="Spoon", quantity=1, price=Decimal("1.01")
    )
    order = await orders.get_order(conn, tables=t, order_id=ids["orders"][0])
    assert Decimal(order["total_amount"]) == Decimal("48.00")
    new = await _message(conn, t, ids["customers"][0], "after restore", "wamid.new")
    assert new > max(ids["messages"])

    # restoring over an existing agent is refused and changes nothing
    with pytest.raises(BackupError, match="exists"):
        await restore_agent(conn, path=out, media_root=tmp_path / "media")


async def test_restore_refuses_bad_files(conn: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar at all")
    with pytest.raises(BackupError, match="not a wacrm agent backup"):
        await restore_agent(conn, path=bad)
    with pytest.raises(BackupError, match="no agent with prefix"):
        await backup_agent(conn, prefix="agt_404", out=tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()


async def test_erase_customer_removes_everything_about_them(conn: Any, tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "media")
    ids = await populate(conn, store)
    other = await populate(conn, store, "other@example.com")
    t = ids["agent"]["tables"]
    agent_id = ids["agent"]["agent"]["id"]
    gone, kept = ids["customers"]
    # journal rows of this agent's number naming the customer (and one naming the other customer)
    await conn.execute(
        """INSERT INTO whatsapp_configuration (user_id, whatsapp_number, webhook_url, phone_number_id)
           VALUES (%s, '+1555', 'http://x', '555000')""",
        (ids["agent"]["user_id"],),
    )
    for phone in ("4915100000001", "4915100000002"):
        await conn.execute(
            "INSERT INTO webhook_journal (phone_number_id, body, status) VALUES ('555000', %s, 'processed')",
            (json.dumps({"wa_id": phone}).encode(),),
        )
    other_before = await snapshot(
        conn, other["agent"]["agent"]["id"], other["agent"]["agent"]["agent_prefix"]
    )

    cur = await conn.execute(
        t.query("SELECT count(*) AS n FROM {messages} WHERE customer_id = %s"), (gone,)
    )
    n_messages = (await cur.fetchone())["n"]
    assert n_messages >= 3  # three inbound, plus the order status notification
    plan = await erasure_plan(conn, tables=t, customer_id=gone)
    assert (plan["messages"], plan["orders"], plan["order_items"], plan["order_history"]) == (
        n_messages,
        1,
        2,
        2,
    )
    result = await erase_customer(conn, tables=t, customer_id=gone, store=store)
    assert result == {
        "customer_id": gone,
        "messages": n_messages,
        "orders": 1,
        "order_items": 2,
        "order_history": 2,
        "journal_rows": 1,
        "media_files": 3,
    }

    async def count(q: str, *args: Any) -> int:
        cur = await conn.execute(t.query(q), args)
        return int((await cur.fetchone())["n"])

    assert await count("SELECT count(*) AS n FROM {customers} WHERE id = %s", gone) == 0
    assert await count("SELECT count(*) AS n FROM {messages} WHERE customer_id = %s", gone) == 0
    assert await count("SELECT count(*) AS n FROM {orders} WHERE customer_id = %s", gone) == 0
    assert await count("SELECT count(*) AS n FROM {orders_items}") == 2
    assert await count("SELECT count(*) AS n FROM {orders_history}") == 2
    assert (
        await count("SELECT count(*) AS n FROM {messages} WHERE customer_id = %s", kept)
        == n_messages
    )
    cur = await conn.execute(
        "SELECT count(*) AS n FROM webhook_journal WHERE position('4915100000001' IN convert_from(body, 'UTF8')) > 0"
    )
    assert (await cur.fetchone())["n"] == 0
    cur = await conn.execute("SELECT count(*) AS n FROM webhook_journal")
    assert (await cur.fetchone())["n"] == 1
    for mid in ids["messages"][:3]:
        assert await store.get(media_key(agent_id, mid)) is None
    for mid in ids["messages"][3:]:
        assert await store.get(media_key(agent_id, mid)) is not None
    await check_totals(conn, prefix=t.prefix)
    assert (
        await snapshot(conn, other["agent"]["agent"]["id"], other["agent"]["agent"]["agent_prefix"])
        == other_before
    )
    with pytest.raises(CustomerNotFoundError):
        await erase_customer(conn, tables=t, customer_id=gone, store=store)


@pytest.mark.slow
def test_cli_backup_restore_and_erase(db_url: str, tmp_path: Path) -> None:
    """The commands end to end, as an operator runs them."""
    import asyncio

    env = env_for(tmp_path, DATABASE_URL=db_url)
    media = tmp_path / "data" / "media"

    async def setup() -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as c:
            return await populate(c, FolderStore(media))

    ids = asyncio.run(setup())
    agent = ids["agent"]["agent"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*WACRM, *args], env=env, capture_output=True, text=True, timeout=120)

    out = tmp_path / "b.tar.gz"
    r = run("agent", "backup", "--prefix", agent["agent_prefix"], "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["agent_id"] == agent["id"]
    assert (
        run("agent", "backup", "--prefix", "agt_;drop", "--out", str(tmp_path / "y")).returncode
        == 1
    )
    r = run("agent", "restore", "--in", str(out))
    assert r.returncode == 1 and "exists" in r.stderr
    assert run("agent", "restore", "--in", str(tmp_path / "missing.tar.gz")).returncode == 2

    r = run("customer", "erase", "--agent-id", str(agent["id"]), "--customer-id", "999")
    assert r.returncode == 1 and "no customer" in r.stderr
    cid = ids["customers"][0]
    r = run(
        "customer", "erase", "--agent-id", str(agent["id"]), "--customer-id", str(cid), "--json"
    )
    assert (
        r.returncode == 1 and json.loads(r.stdout)["erased"] is False
    )  # no --confirm: nothing done
    r = run(
        "customer",
        "erase",
        "--agent-id",
        str(agent["id"]),
        "--customer-id",
        str(cid),
        "--confirm",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["media_files"] == 3
    customers = sql.Identifier(agent["agent_prefix"] + "_customers")
    with psycopg.connect(db_url, autocommit=True) as c:
        assert c.execute(sql.SQL("SELECT count(*) FROM {}").format(customers)).fetchone() == (1,)

    async def drop() -> None:
        async with await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as c:
            await drop_agent(c, agent_id=agent["id"], confirm=agent["agent_prefix"])

    asyncio.run(drop())
    r = run("agent", "restore", "--in", str(out))
    assert r.returncode == 0, r.stderr
    with psycopg.connect(db_url, autocommit=True) as c:  # the backup predates the erasure
        assert c.execute(sql.SQL("SELECT count(*) FROM {}").format(customers)).fetchone() == (2,)
    assert len(list((media / str(agent["id"])).iterdir())) == 6
