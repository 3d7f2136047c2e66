"""The sandbox plays Meta's 2025–26 webhooks to a served CRM over real HTTP (issue 19)."""

from __future__ import annotations

from typing import Any

from tests.helpers import configure_sandbox_number, make_agent_user
from tests.realtime.test_sse import serve
from tests.sandbox_fixture import DEFAULT_NUMBER

CUSTOMER = "4915123456789"


async def _one(conn: Any, query: Any, *args: Any) -> dict[str, Any]:
    return await (await conn.execute(query, args or None)).fetchone()


async def test_edit_revoke_and_opt_out_played_by_the_sandbox(
    sandbox: Any, conn: Any, db_url: str, settings: Any
) -> None:
    user = await make_agent_user(conn, "seller@example.com")
    t = user["tables"]
    async with serve(db_url, settings) as crm:
        number = sandbox.register_number(webhook_url=f"{crm}/webhooks/whatsapp")
        await configure_sandbox_number(conn, user["user_id"], {**DEFAULT_NUMBER, **number})
        first = await sandbox.asend_as_customer(CUSTOMER, text="pick up at 5")
        second = await sandbox.asend_as_customer(CUSTOMER, text="my pin is 1234")
        assert first["status_code"] == second["status_code"] == 200
        edit = await sandbox.asend_as_customer(
            CUSTOMER, type="edit", text="pick up at 6", context_message_id=first["wamid"]
        )
        revoke = await sandbox.asend_as_customer(
            CUSTOMER, type="revoke", context_message_id=second["wamid"]
        )
        assert edit["status_code"] == revoke["status_code"] == 200
        by_wamid = t.query("SELECT * FROM {messages} WHERE wamid = %s")
        edited = await _one(conn, by_wamid, first["wamid"])
        assert edited["message"] == "pick up at 6" and edited["edited_at"] is not None
        gone = await _one(conn, by_wamid, second["wamid"])
        assert gone["deleted_at"] is not None and "1234" not in gone["message"]
        assert gone["raw"] is None
        # WhatsApp's own "stop marketing messages"
        import httpx

        async with httpx.AsyncClient(base_url=sandbox.base_url, trust_env=False) as http:
            r = await http.post(f"/sandbox/customers/{CUSTOMER}/preferences", json={})
            assert r.status_code == 200 and r.json()["status_code"] == 200, r.text
        c = await _one(conn, t.query("SELECT * FROM {customers} WHERE phone = %s"), "+" + CUSTOMER)
        assert c["opted_in"] is False and c["opt_in_source"].startswith("WhatsApp")
        journal = await _one(conn, "SELECT count(*) FILTER (WHERE status <> 'processed') AS n"
                             " FROM webhook_journal")  # fmt: skip
        assert journal["n"] == 0


async def test_echo_history_call_and_restriction_played_by_the_sandbox(
    sandbox: Any, conn: Any, db_url: str, settings: Any
) -> None:
    import httpx

    user = await make_agent_user(conn, "seller@example.com")
    t = user["tables"]
    async with (
        serve(db_url, settings) as crm,
        httpx.AsyncClient(base_url=sandbox.base_url, trust_env=False, timeout=30) as http,
    ):
        number = sandbox.register_number(webhook_url=f"{crm}/webhooks/whatsapp")
        await configure_sandbox_number(conn, user["user_id"], {**DEFAULT_NUMBER, **number})

        async def play(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = await http.post(path, json=body)
            assert r.status_code == 200 and r.json()["status_code"] == 200, r.text
            return r.json()

        await sandbox.asend_as_customer(CUSTOMER, text="hi")
        echo = await play(f"/sandbox/customers/{CUSTOMER}/echo", {"text": "on my way"})
        m = await _one(conn, t.query("SELECT * FROM {messages} WHERE wamid = %s"), echo["wamid"])
        assert m["origin"] == "business_app" and m["direction"] == "outbound"
        await play("/sandbox/history", {"customers": [CUSTOMER, "4367612345678"], "days_ago": 40})
        n = await _one(
            conn, t.query("SELECT count(*) AS n FROM {messages} WHERE origin = 'history'")
        )
        assert n["n"] == 4
        await play("/sandbox/history", {"declined": True})
        chunks = await _one(
            conn, "SELECT count(*) AS n, max(error_code) AS code FROM history_chunks"
        )
        assert chunks["n"] == 3 and chunks["code"] == 2593109
        await play(f"/sandbox/customers/{CUSTOMER}/call", {"seconds": 0})
        await play(f"/sandbox/customers/{CUSTOMER}/call", {"seconds": 192})
        calls = await (await conn.execute(
            t.query("SELECT message FROM {messages} WHERE wa_type = 'call' ORDER BY id"))).fetchall()  # fmt: skip
        assert [c["message"] for c in calls] == ["📞 Missed call", "📞 Call 3 min 12 s"]
        await play("/sandbox/account", {"event": "restrict"})
        cfg = await _one(conn, "SELECT * FROM whatsapp_configuration")
        assert cfg["cannot_send_reason"].startswith("messaging restricted by Meta")
        assert cfg["coexistence_since"] is not None
        await play("/sandbox/account", {"event": "lift"})
        assert (await _one(conn, "SELECT * FROM whatsapp_configuration"))[
            "cannot_send_reason"
        ] is None
        journal = await _one(conn, "SELECT count(*) FILTER (WHERE status <> 'processed') AS n"
                             " FROM webhook_journal")  # fmt: skip
        assert journal["n"] == 0


def test_the_sandbox_page_offers_the_2026_plays(sandbox: Any) -> None:
    page = sandbox.http.get("/sandbox/").text
    for label in ("Customer stops marketing", "Missed call", "History share declined",
                  "Account restricted", "<option>edit</option>", "<option>revoke</option>"):  # fmt: skip
        assert label in page
