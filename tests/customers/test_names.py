"""Item 13.10: a name the agent gives a customer survives the WhatsApp profile name; the profile
name is kept beside it (API, inbox, chat panel). Webhooks ingested one by one and as a batch."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.helpers import bearer, resolve_customer
from tests.inbound.conftest import PNID, rows
from tests.inbound.test_bulk import _contact, _hook, _text
from wacrm.customers import service as customers
from wacrm.inbound.ingest import ingest, ingest_webhooks
from wacrm.inbound.journal import Webhook
from wacrm.inbound.routing import RouteCache

PHONE = "4917612345678"


def _message(wamid: str, ts: int, name: str) -> dict[str, Any]:
    return _hook(PNID, [_text(wamid, ts, phone=PHONE)], [_contact(phone=PHONE, name=name)])


async def _one_by_one(conn: Any, payload: dict[str, Any]) -> None:
    async with conn.transaction():
        await ingest(conn, [payload], RouteCache())


async def _batched(conn: Any, payload: dict[str, Any]) -> None:
    pnid = payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    statuses, _ = await ingest_webhooks(
        conn, [Webhook(orjson.dumps(payload), payload, pnid)], RouteCache()
    )
    assert statuses == ["processed"]


async def _customer(conn: Any, tables: Any) -> dict[str, Any]:
    (row,) = await rows(conn, tables.query("SELECT id FROM {customers}"))
    found = await customers.get_customer(conn, tables=tables, customer_id=row["id"])
    assert found is not None
    return found


@pytest.mark.parametrize("deliver", [_one_by_one, _batched], ids=["one-by-one", "batched"])
async def test_agent_name_survives_profile_name_changes(conn, agent, deliver):
    t = agent["tables"]
    await deliver(conn, _message("wamid.N1", 1732890001, "Hansi 🎸"))
    first = await _customer(conn, t)
    assert (first["name"], first["profile_name"], first["name_by_agent"]) == (
        "Hansi 🎸",
        "Hansi 🎸",
        False,
    )
    await customers.rename_customer(conn, tables=t, customer_id=first["id"], name="Hans Müller")
    await deliver(conn, _message("wamid.N2", 1732890002, "H. M. (new phone)"))
    after = await _customer(conn, t)
    assert after["name"] == "Hans Müller"  # the agent's name stays
    assert after["profile_name"] == "H. M. (new phone)"  # WhatsApp's is kept beside it
    assert after["name_by_agent"] is True
    assert after["unread_count"] == 2


@pytest.mark.parametrize("deliver", [_one_by_one, _batched], ids=["one-by-one", "batched"])
async def test_without_agent_name_the_profile_name_follows_whatsapp(conn, agent, deliver):
    await deliver(conn, _message("wamid.P1", 1732890001, "Ann"))
    await deliver(conn, _message("wamid.P2", 1732890002, "Annie"))
    row = await _customer(conn, agent["tables"])
    assert (row["name"], row["profile_name"], row["name_by_agent"]) == ("Annie", "Annie", False)


async def test_api_inbox_and_panel_show_both_names(conn, agent, client):
    t = agent["tables"]
    await _one_by_one(conn, _message("wamid.A1", 1732890001, "Hansi"))
    cid = (await _customer(conn, t))["id"]
    headers = bearer(agent["token"])
    r = await client.patch(f"/api/v1/customers/{cid}", json={"name": "Hans M."}, headers=headers)
    assert r.status_code == 200, r.text
    await _one_by_one(conn, _message("wamid.A2", 1732890002, "Hansi 2"))
    body = (await client.get(f"/api/v1/customers/{cid}", headers=headers)).json()
    assert (body["name"], body["profile_name"], body["name_by_agent"]) == (
        "Hans M.",
        "Hansi 2",
        True,
    )
    inbox = (await client.get("/api/v1/conversations", headers=headers)).json()
    entry = inbox["items"][0]
    assert (entry["name"], entry["profile_name"], entry["name_by_agent"]) == (
        "Hans M.",
        "Hansi 2",
        True,
    )


async def test_chat_panel_and_inbox_show_the_profile_name_as_such(conn, client):
    from tests.web.conftest import sign_in, user_with_password

    seller = await user_with_password(conn, "namer@example.com")
    t = seller["tables"]
    # the customer as WhatsApp names it, renamed by the agent, then named anew by WhatsApp
    # (what ingest writes is the tests above; here only what the pages show)
    cid = await resolve_customer(conn, tables=t, wa_id=PHONE)
    profile = t.query("UPDATE {customers} SET name = %s, profile_name = %s WHERE id = %s")
    await conn.execute(profile, ("Hansi", "Hansi", cid))
    await customers.rename_customer(conn, tables=t, customer_id=cid, name="Hans M.")
    await conn.execute(
        t.query("UPDATE {customers} SET profile_name = %s WHERE id = %s"), ("Hansi <2>", cid)
    )
    await sign_in(client, "namer@example.com")
    panel = (await client.get(f"/chat/{cid}/panel")).text
    assert 'value="Hans M."' in panel
    assert "WhatsApp name</dt><dd" in panel and "Hansi &lt;2&gt;" in panel
    listing = (await client.get("/inbox/list")).text
    assert "Hans M." in listing and 'title="WhatsApp profile name">~Hansi &lt;2&gt;' in listing


@pytest.mark.parametrize("known", [True, False], ids=["merged", "created"])
async def test_an_imported_name_is_kept_like_the_agents(conn, agent, known):
    """A contact import is the business's own name for the customer (a neighbour of item 10)."""
    from wacrm.contacts import csvfile
    from wacrm.contacts import service as contacts

    t = agent["tables"]
    if known:
        await _one_by_one(conn, _message("wamid.I0", 1732890000, "hansi_wa"))
    parsed = csvfile.parse(b"name,phone\nHans Imported,+4917612345678\n", country="DE")
    await contacts.write_contacts(conn, tables=t, contacts=parsed.contacts)
    await _one_by_one(conn, _message("wamid.I1", 1732890001, "Hansi WA"))
    row = await _customer(conn, t)
    assert (row["name"], row["profile_name"], row["name_by_agent"]) == (
        "Hans Imported",
        "Hansi WA",
        True,
    )
