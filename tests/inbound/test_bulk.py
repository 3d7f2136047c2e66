"""A batch processed set-based stores exactly what the same webhooks store one by one."""

from __future__ import annotations

from typing import Any

import orjson

from tests.helpers import WEBHOOK_URL, make_agent_user
from tests.inbound.conftest import APP_SECRET, PNID, rows
from wacrm.inbound.ingest import ingest, ingest_webhooks
from wacrm.inbound.journal import Webhook
from wacrm.inbound.routing import RouteCache
from wacrm.numbers import service as numbers

OTHER_PNID = "106540352249999"


def _hook(
    pnid: str,
    messages: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1555", "phone_number_id": pnid},
    }
    if messages:
        value["messages"], value["contacts"] = messages, contacts
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def _text(
    wamid: str, ts: int, *, phone: str | None = None, bsuid: str | None = None, body: str = "hi"
) -> dict[str, Any]:
    m: dict[str, Any] = {"id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": body}}
    if phone:
        m["from"] = phone
    if bsuid:
        m["from_user_id"] = bsuid
    return m


def _contact(
    *,
    phone: str | None = None,
    bsuid: str | None = None,
    name: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    c: dict[str, Any] = {
        "profile": {k: v for k, v in (("name", name), ("username", username)) if v}
    }
    if phone:
        c["wa_id"] = phone
    if bsuid:
        c["user_id"] = bsuid
    return c


def _status(wamid: str, status: str, ts: int, *, error: bool = False) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(ts),
        "recipient_id": "4915100000001",
    }
    if error:
        s["errors"] = [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "error_data": {"details": "not on WhatsApp"},
            }
        ]
    return s


def scenario(pnid: str) -> list[dict[str, Any]]:
    """Identity linking, repeats, counters out of order, a reaction between, media and statuses."""
    p1, p2, p3 = "4915100000001", "4915100000002", "4915100000003"
    image = {
        "id": "wamid.IMG",
        "from": p3,
        "timestamp": "1732890050",
        "type": "image",
        "image": {"id": "media-1", "mime_type": "image/jpeg", "sha256": "abc"},
    }
    return [
        _hook(pnid, [_text("wamid.1", 1732890001, phone=p1)], [_contact(phone=p1, name="Ann")]),
        _hook(
            pnid,
            [_text("wamid.2", 1732890002, phone=p1, bsuid="US.B1")],
            [_contact(phone=p1, bsuid="US.B1", username="ann_u")],
        ),
        _hook(
            pnid,
            [_text("wamid.3", 1732890003, bsuid="US.B2")],
            [_contact(bsuid="US.B2", name="Bob")],
        ),
        _hook(
            pnid,
            [_text("wamid.4", 1732890004, phone=p2, bsuid="US.B2")],
            [_contact(phone=p2, bsuid="US.B2")],
        ),
        _hook(pnid, [_text("wamid.5", 1732890005, phone=p2)], [_contact(phone=p2, name="Bobby")]),
        _hook(pnid, [_text("wamid.1", 1732890001, phone=p1)], [_contact(phone=p1, name="Ann")]),
        _hook(
            pnid,
            [_text("wamid.6", 1732890040, phone=p3), _text("wamid.7", 1732890030, phone=p3), image],
            [_contact(phone=p3, name="Cy")],
        ),
        _hook(
            pnid,
            [
                {
                    "id": "wamid.R",
                    "from": p1,
                    "timestamp": "1732890060",
                    "type": "reaction",
                    "reaction": {"message_id": "wamid.1", "emoji": "👍"},
                }
            ],
            [_contact(phone=p1)],
        ),
        _hook(pnid, [_text("wamid.8", 1732890070, phone=p1)], [_contact(phone=p1, name="Annie")]),
        _hook(
            pnid,
            [],
            [],
            [
                _status("wamid.1", "delivered", 1732890080),
                _status("wamid.1", "failed", 1732890081, error=True),
                _status("wamid.1", "read", 1732890082),
                _status("wamid.2", "read", 1732890083),
                _status("wamid.UNKNOWN", "sent", 1732890084),
            ],
        ),
        _hook(pnid, [], [], [_status("wamid.2", "delivered", 1732890090)]),
    ]


async def _state(conn: Any, tables: Any, agent_id: int) -> dict[str, Any]:
    customers = await rows(
        conn,
        tables.query(
            "SELECT c.name, c.phone, c.wa_id, c.bsuid, c.username, c.unread_count, c.last_message_at,"
            " c.last_inbound_at, m.wamid AS last_wamid FROM {customers} c"
            " LEFT JOIN {messages} m ON m.id = c.last_message_id ORDER BY c.phone NULLS LAST, c.bsuid"
        ),
    )
    messages = await rows(
        conn,
        tables.query(
            "SELECT m.wamid, c.phone, c.bsuid, m.message, m.status, m.status_at, m.error_code,"
            " m.error_title, m.error_details, m.reaction, m.media_type::text, m.media_id,"
            " m.media_status, m.wa_type, m.raw FROM {messages} m JOIN {customers} c ON c.id = m.customer_id"
            " ORDER BY m.wamid"
        ),
    )
    early = await rows(
        conn,
        "SELECT wamid, status, status_at FROM inbound_early_statuses"
        " WHERE agent_id = %s ORDER BY wamid, status",
        agent_id,
    )
    return {"customers": customers, "messages": messages, "early": early}


async def test_batch_stores_what_one_by_one_stores(conn, agent):
    other = await make_agent_user(conn, "other@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=other["user_id"],
        whatsapp_number="+15550002222",
        phone_number_id=OTHER_PNID,
        business_account_id="102290129340399",
        access_token="EAAB-test-token",
        app_secret=APP_SECRET,
        verify_token="verify-token-def",
    )
    routes = RouteCache()
    # the agent's webhooks as ONE batch, the other agent's one transaction each
    hooks = [Webhook(orjson.dumps(p), p, PNID) for p in scenario(PNID)]
    assert await ingest_webhooks(conn, hooks, routes) == (["processed"] * len(hooks), False)
    for p in scenario(OTHER_PNID):
        async with conn.transaction():
            await ingest(conn, [p], routes)
    batch = await _state(conn, agent["tables"], agent["agent"]["id"])
    single = await _state(conn, other["tables"], other["agent"]["id"])
    assert batch == single
    by_phone = {c["phone"]: c for c in batch["customers"]}
    assert len(batch["customers"]) == 3  # one per person: B1 linked to p1, B2 got p2
    assert by_phone["+4915100000001"]["bsuid"] == "US.B1"
    assert by_phone["+4915100000001"]["name"] == "Annie"
    assert by_phone["+4915100000001"]["unread_count"] == 3
    assert by_phone["+4915100000002"]["bsuid"] == "US.B2"
    assert by_phone["+4915100000003"]["last_wamid"] == "wamid.IMG"
    assert by_phone["+4915100000003"]["unread_count"] == 3
    msgs = {m["wamid"]: m for m in batch["messages"]}
    assert len(msgs) == 9
    assert (msgs["wamid.1"]["status"], msgs["wamid.1"]["error_code"]) == ("failed", 131026)
    assert msgs["wamid.1"]["reaction"] == "👍"
    assert msgs["wamid.2"]["status"] == "read"
    assert [e["wamid"] for e in batch["early"]] == ["wamid.UNKNOWN"]


async def test_batch_events_one_per_stored_message_and_status(conn, agent):
    """Every stored message and applied status sends its event in the documented format."""
    await conn.execute("LISTEN wacrm_events")
    hooks = [Webhook(orjson.dumps(p), p, PNID) for p in scenario(PNID)]
    await ingest_webhooks(conn, hooks, RouteCache())
    events = [orjson.loads(n.payload) async for n in conn.notifies(timeout=1.0)]
    assert all(
        set(e) == {"agent_id", "kind", "customer_id", "message_id", "order_id"} for e in events
    )
    assert all(e["agent_id"] == agent["agent"]["id"] for e in events)
    kinds = [e["kind"] for e in events]
    # 9 messages stored (the reaction event on wamid.1 is the same as its own), statuses: wamid.1
    # twice, wamid.2 once (identical events in one transaction are delivered once by PostgreSQL)
    assert kinds.count("message") == 9
    assert kinds.count("status") == 2


async def test_message_words_reach_the_search_document_in_one_update(conn, agent):
    """The batch's one update of a customer also writes its new words into the search document:
    the messages' trigger then finds them there and writes nothing (one row version, not two)."""
    tables = agent["tables"]
    p1 = "4915100000001"
    routes = RouteCache()
    first = _hook(
        PNID, [_text("wamid.W1", 1732890001, phone=p1, body="hello")], [_contact(phone=p1)]
    )
    await ingest_webhooks(conn, [Webhook(orjson.dumps(first), first, PNID)], routes)
    later = _hook(
        PNID,
        [
            _text("wamid.W2", 1732890002, phone=p1, body="Blue shoes"),
            _text("wamid.W3", 1732890003, phone=p1, body="size"),
        ],
        [_contact(phone=p1)],
    )
    updates = (
        "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
        f"{tables.prefix}_customers",
    )
    async with conn.transaction():  # counts of this transaction (or of the test's, around it)
        [before] = await rows(conn, *updates)
        await ingest(conn, [later], routes)
        [after] = await rows(conn, *updates)
    assert after["n_tup_upd"] - before["n_tup_upd"] == 1
    [customer] = await rows(
        conn, tables.query("SELECT search_doc::text AS doc, unread_count FROM {customers}")
    )
    assert customer["unread_count"] == 3
    assert all(f"'{w}'" in customer["doc"] for w in ("hello", "blue", "shoes", "size"))
