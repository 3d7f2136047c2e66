"""Early statuses the messages' trigger missed are applied by the sweep; old orphans are dropped."""

from __future__ import annotations

from typing import Any

from tests.conversations.factory import add_customer, add_message, new_agent
from wacrm.inbound.early import sweep_early_changes, sweep_early_statuses


async def _early(conn: Any, agent_id: int, wamid: str, status: str, age: str, **err: Any) -> None:
    await conn.execute(
        """INSERT INTO inbound_early_statuses (agent_id, wamid, status, status_at, error_code,
             error_title, received_at)
           VALUES (%s, %s, %s, now() - %s::interval, %s, %s, now() - %s::interval)""",
        (agent_id, wamid, status, age, err.get("code"), err.get("title"), age),
    )


async def _message(conn: Any, t: Any, message_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        t.query("SELECT status, error_code, error_title FROM {messages} WHERE id = %s"),
        (message_id,),
    )
    return dict(await cur.fetchone())


async def test_a_stranded_failed_status_reaches_its_message(conn: Any) -> None:
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Ana", phone="+4915100000001")
    failed = await add_message(
        conn, t, cid, "offer", direction="outbound", wamid="wamid.A", status="sent"
    )
    read = await add_message(
        conn, t, cid, "hi", direction="outbound", wamid="wamid.B", status="sent"
    )
    fresh = await add_message(
        conn, t, cid, "yo", direction="outbound", wamid="wamid.C", status="sent"
    )
    # as if each status committed just after its wamid's trigger ran
    await _early(
        conn, t.agent_id, "wamid.A", "failed", "1 minute", code=131026, title="Undeliverable"
    )
    await _early(conn, t.agent_id, "wamid.B", "delivered", "1 minute")
    await _early(conn, t.agent_id, "wamid.B", "read", "1 minute")
    await _early(conn, t.agent_id, "wamid.C", "read", "0 seconds")  # the trigger may still take it
    await _early(conn, t.agent_id, "wamid.not-ours", "sent", "8 days")
    await _early(conn, t.agent_id, "wamid.not-yet", "sent", "1 day")

    assert await sweep_early_statuses(conn) == 2
    assert await _message(conn, t, failed) == {
        "status": "failed",
        "error_code": 131026,
        "error_title": "Undeliverable",
    }
    assert (await _message(conn, t, read))["status"] == "read"
    assert (await _message(conn, t, fresh))["status"] == "sent"
    cur = await conn.execute("SELECT wamid FROM inbound_early_statuses ORDER BY wamid")
    assert [r["wamid"] for r in await cur.fetchall()] == ["wamid.C", "wamid.not-yet"]
    assert await sweep_early_statuses(conn) == 0


async def test_a_lower_status_does_not_move_a_message_back(conn: Any) -> None:
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Ben", phone="+4915100000002")
    mid = await add_message(conn, t, cid, "x", direction="outbound", wamid="wamid.R", status="read")
    await _early(conn, t.agent_id, "wamid.R", "delivered", "1 minute")
    await sweep_early_statuses(conn)
    assert (await _message(conn, t, mid))["status"] == "read"
    cur = await conn.execute("SELECT count(*) AS n FROM inbound_early_statuses")
    assert (await cur.fetchone())["n"] == 0


async def _early_change(
    conn: Any, agent_id: int, wamid: str, kind: str, age: str, text: Any
) -> None:
    await conn.execute(
        """INSERT INTO inbound_early_changes (agent_id, change_wamid, wamid, kind, text, changed_at,
             received_at) VALUES (%s, %s, %s, %s, %s, now() - %s::interval, now() - %s::interval)""",
        (agent_id, f"{wamid}.{kind}.{age}", wamid, kind, text, age, age),
    )


async def test_stranded_edits_and_deletions_reach_their_messages(conn: Any) -> None:
    t = await new_agent(conn)
    cid = await add_customer(conn, t, "Ana", phone="+4915100000002")
    edited = await add_message(conn, t, cid, "see you tomorow", wamid="wamid.E")
    deleted = await add_message(conn, t, cid, "my card number is ...", wamid="wamid.D")
    fresh = await add_message(conn, t, cid, "untouched yet", wamid="wamid.F")
    # as if each change committed just after its original's trigger ran
    await _early_change(conn, t.agent_id, "wamid.E", "edit", "1 minute", "see you tomorrow")
    await _early_change(conn, t.agent_id, "wamid.D", "revoke", "1 minute", None)
    await _early_change(conn, t.agent_id, "wamid.F", "edit", "0 seconds", "the trigger's")
    await _early_change(conn, t.agent_id, "wamid.never", "edit", "8 days", "an orphan")
    await _early_change(conn, t.agent_id, "wamid.later", "edit", "1 day", "may still come")

    assert await sweep_early_changes(conn) == 2
    cur = await conn.execute(
        t.query("SELECT id, message, edited_at, deleted_at FROM {messages} ORDER BY id")
    )
    got = {r["id"]: r for r in await cur.fetchall()}
    assert got[edited]["message"] == "see you tomorrow" and got[edited]["edited_at"] is not None
    assert got[deleted]["message"] == "" and got[deleted]["deleted_at"] is not None
    assert got[fresh]["message"] == "untouched yet"
    cur = await conn.execute("SELECT wamid FROM inbound_early_changes ORDER BY wamid")
    assert [r["wamid"] for r in await cur.fetchall()] == ["wamid.F", "wamid.later"]
    assert await sweep_early_changes(conn) == 0
