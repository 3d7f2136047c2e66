"""Customer identity: BSUID first, phone otherwise, linked when both are seen, races make one row."""

from __future__ import annotations

import asyncio
import json

import psycopg
from psycopg.rows import dict_row

from tests.helpers import bearer, make_agent_user, resolve_customer
from tests.inbound.conftest import deliver, load, rows
from wacrm.customers import service as customers


def test_e164():
    assert customers.e164("4915123456789") == "+4915123456789"
    assert customers.e164("+1 (555) 000-1111") == "+15550001111"
    assert (
        customers.e164(None) is None
        and customers.e164("") is None
        and customers.e164("abc") is None
    )


async def test_phone_then_bsuid_stays_one_customer(client, conn, agent):
    t = agent["tables"]
    await deliver(client, load("text_old_shape"))
    await deliver(client, load("text_new_shape"))
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["phone"] == "+4915123456789" and c["bsuid"] == "DE.13491208655302741918"
    assert c["username"] == "anna.s" and c["unread_count"] == 2


async def test_bsuid_then_phone_only_stays_one_customer(client, conn, agent):
    t = agent["tables"]
    await deliver(client, load("text_new_shape"))
    await deliver(client, load("text_old_shape"))  # an old-shape redelivery of another message
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["bsuid"] == "DE.13491208655302741918" and c["phone"] == "+4915123456789"


async def test_username_only_customer(client, conn, agent):
    t = agent["tables"]
    assert (await deliver(client, load("username_only"))).status_code == 200
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["phone"] is None and c["bsuid"] == "US.99887766554433221100"
    assert c["username"] == "hidden.user" and c["name"] == "Hidden Number"
    [m] = await rows(conn, t.query("SELECT customer_id, message FROM {messages}"))
    assert m["customer_id"] == c["id"]


async def test_profile_is_never_blanked(client, conn, agent):
    t = agent["tables"]
    await deliver(client, load("text_new_shape"))
    payload = load("reply_context")  # old shape, then one without a contacts array at all
    del payload["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]
    await deliver(client, payload)
    payload = load("location")
    del payload["entry"][0]["changes"][0]["value"]["contacts"]
    await deliver(client, payload)
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["name"] == "Anna Schmidt" and c["username"] == "anna.s"
    renamed = load("interactive_list_reply")
    renamed["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = "Anna S."
    await deliver(client, renamed)
    [c] = await rows(conn, t.query("SELECT name FROM {customers}"))
    assert c["name"] == "Anna S."


async def test_user_changed_number(client, conn, agent):
    t = agent["tables"]
    await deliver(client, load("text_new_shape"))
    assert (await deliver(client, load("system_user_changed_number"))).status_code == 200
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["phone"] == "+4915199999999" and c["wa_id"] == "4915199999999"
    # the next message comes from the new number with a new BSUID: still the same customer
    nxt = load("text_new_shape")
    value = nxt["entry"][0]["changes"][0]["value"]
    value["contacts"][0].update(wa_id="4915199999999", user_id="DE.77777777777777777777")
    value["messages"][0].update(
        {
            "from": "4915199999999",
            "from_user_id": "DE.77777777777777777777",
            "id": "wamid.AFTER_CHANGE",
        }
    )
    await deliver(client, nxt)
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["bsuid"] == "DE.77777777777777777777" and c["phone"] == "+4915199999999"
    [sys_msg] = await rows(conn, t.query("SELECT * FROM {messages} WHERE wa_type = 'system'"))
    assert sys_msg["customer_id"] == c["id"] and "changed from" in sys_msg["message"]


async def test_user_changed_user_id(client, conn, agent):
    t = agent["tables"]
    await deliver(client, load("text_new_shape"))
    assert (await deliver(client, load("system_user_changed_user_id"))).status_code == 200
    [c] = await rows(conn, t.query("SELECT * FROM {customers}"))
    assert c["bsuid"] == "DE.55555555555555555555" and c["phone"] == "+4915123456789"
    assert len(await rows(conn, t.query("SELECT id FROM {messages}"))) == 2


async def test_races_make_one_customer(db_url, agent):
    t = agent["tables"]

    async def one(i: int) -> int | None:
        async with (
            await psycopg.AsyncConnection.connect(
                db_url, autocommit=True, row_factory=dict_row
            ) as c,
            c.transaction(),
        ):
            cid = await resolve_customer(
                c, tables=t, wa_id="4915123456789", bsuid="DE.1" if i % 2 else None
            )
            await asyncio.sleep(0.05)
            return cid

    ids = await asyncio.gather(*(one(i) for i in range(8)))
    assert len(set(ids)) == 1
    async with await psycopg.AsyncConnection.connect(
        db_url, autocommit=True, row_factory=dict_row
    ) as c:
        assert len(await rows(c, t.query("SELECT id FROM {customers}"))) == 1


async def test_customers_api(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    [c] = await rows(conn, agent["tables"].query("SELECT id FROM {customers}"))
    h = bearer(agent["token"])
    got = await client.get(f"/api/v1/customers/{c['id']}", headers=h)
    assert got.status_code == 200 and got.json()["phone"] == "+4915123456789"
    assert (await client.get(f"/api/v1/customers/{c['id']}")).status_code == 401
    assert (await client.get("/api/v1/customers/999999", headers=h)).status_code == 404
    r = await client.patch(
        f"/api/v1/customers/{c['id']}", headers=h, json={"name": "  Anna (VIP) "}
    )
    assert r.status_code == 200 and r.json()["name"] == "Anna (VIP)"
    for bad in ({"name": ""}, {"name": "   "}, {}, {"name": "x" * 201}):
        r = await client.patch(f"/api/v1/customers/{c['id']}", headers=h, json=bad)
        assert r.status_code in (400, 422), bad
    [c2] = await rows(conn, agent["tables"].query("SELECT name FROM {customers}"))
    assert c2["name"] == "Anna (VIP)"
    # another agent's user sees 404, never the customer
    other = await make_agent_user(conn, "other@example.com")
    r = await client.get(f"/api/v1/customers/{c['id']}", headers=bearer(other["token"]))
    assert r.status_code == 404
    r = await client.patch(
        f"/api/v1/customers/{c['id']}", headers=bearer(other["token"]), json={"name": "x"}
    )
    assert r.status_code == 404
    assert json.dumps(r.json()).find("Anna") == -1
