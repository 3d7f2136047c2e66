"""What the customer receives is the business's to choose: per-status texts with variables in the
workspace's language, the template outside the window, the default currency (issue 17)."""

from __future__ import annotations

from typing import Any

from tests.outbound.conftest import add_customer
from tests.web.conftest import PASSWORD, sign_in
from wacrm.orders import service as orders
from wacrm.outbound import notifications


async def _messages(conn: Any, tables: Any) -> dict[int, dict[str, Any]]:
    cur = await conn.execute(tables.query("SELECT id, message, wa_type, payload FROM {messages}"))
    return {r["id"]: r for r in await cur.fetchall()}


async def test_the_workspace_chooses_texts_language_currency_and_template(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    from wacrm.accounts.service import set_password

    tables, agent_id = shop["tables"], shop["agent"]["id"]
    await set_password(conn, user_id=shop["user_id"], password=PASSWORD)
    csrf = await sign_in(client, "seller@example.com")
    page = await client.get("/settings/customer-messages")
    assert page.status_code == 200 and 'name="text_shipped"' in page.text
    form = {
        "csrf_token": csrf,
        "notify_order_status": "true",
        "language": "pt_BR",
        "default_currency": "brl",
        "text_shipped": "Oi {customer_name}! Pedido #{order_id} saiu: {status}. {oops}",
        "template": "atualizacao_pedido|pt_BR",
    }
    bad = await client.post("/settings/customer-messages", data=form)
    assert bad.status_code == 400 and 'id="cm-text-shipped-error"' in bad.text
    assert "{oops}" in bad.text  # what was typed stays
    bad_currency = await client.post(
        "/settings/customer-messages", data={**form, "default_currency": "reais"}
    )
    assert bad_currency.status_code == 400 and 'id="cm-currency-error"' in bad_currency.text
    form["text_shipped"] = "Oi {customer_name}! Pedido #{order_id} saiu: {status}."
    saved = await client.post("/settings/customer-messages", data=form)
    assert saved.status_code == 303
    # new orders take the workspace's currency
    order = await orders.create_order(
        conn,
        tables=tables,
        customer_id=shop["customer"]["id"],
        items=[{"name": "Vestido", "quantity": 1, "price": "1234.50"}],
    )
    assert order["currency"].strip() == "BRL"
    shipped = await notifications.notify_order_status(
        conn,
        tables=tables,
        agent_id=agent_id,
        order_id=order["id"],
        status="shipped",
        actor_id=None,
    )
    confirmed = await notifications.notify_order_status(
        conn,
        tables=tables,
        agent_id=agent_id,
        order_id=order["id"],
        status="confirmed",
        actor_id=None,
    )
    rows = await _messages(conn, tables)
    assert rows[shipped]["message"] == f"Oi Customer! Pedido #{order['id']} saiu: enviado."
    # no text of its own: the default sentence in the workspace's language, money formatted for it
    assert rows[confirmed]["message"] == (
        f"Olá Customer, seu pedido nº {order['id']} está confirmado. Total: R$\xa01.234,50."
    )
    # outside the window: the chosen template, its parameters in the workspace's language
    old = await add_customer(conn, tables, "4915100000009", written_ago=30 * 3600)
    late = await orders.create_order(
        conn,
        tables=tables,
        customer_id=old["id"],
        items=[{"name": "x", "quantity": 1, "price": "5"}],
    )
    sent = await notifications.notify_order_status(
        conn,
        tables=tables,
        agent_id=agent_id,
        order_id=late["id"],
        status="delivered",
        actor_id=None,
    )
    payload = (await _messages(conn, tables))[sent]["payload"]
    assert payload["name"] == "atualizacao_pedido" and payload["language"] == "pt_BR"
    assert payload["body_params"][:2] == [f"#{late['id']}", "entregue"]


async def test_only_a_synced_usable_template_and_a_real_currency_are_accepted(
    client: Any, conn: Any, shop: dict[str, Any]
) -> None:
    from wacrm.accounts.service import set_password

    await set_password(conn, user_id=shop["user_id"], password=PASSWORD)
    csrf = await sign_in(client, "seller@example.com")
    page = await client.get("/settings/customer-messages")
    assert 'id="cm-no-templates"' in page.text  # nothing synced yet: the page says where to go
    form = {
        "csrf_token": csrf,
        "language": "en",
        "default_currency": "BRL",
        "template": "no_such_template|en_US",
    }
    unknown = await client.post("/settings/customer-messages", data=form)
    assert unknown.status_code == 400 and 'id="cm-template-error"' in unknown.text
    # a name not in the cache is looked up at Meta once: the sandbox's templates are synced now
    page = await client.get("/settings/customer-messages")
    assert 'value="atualizacao_pedido|pt_BR"' in page.text
    assert 'value="order_confirmation|en_US"' not in page.text  # its header has a parameter
    assert 'id="cm-no-templates"' not in page.text
    fake = await client.post(
        "/settings/customer-messages",
        data={**form, "template": "order_update|en_US", "default_currency": "XYZ"},
    )
    assert fake.status_code == 400 and 'id="cm-currency-error"' in fake.text
    settings = await notifications.get_settings(conn, agent_id=shop["agent"]["id"])
    assert settings["default_currency"] != "XYZ"


def test_a_template_with_more_to_fill_than_a_status_message_has_is_not_offered() -> None:
    from wacrm.web.customer_messages import _usable

    body = {"type": "BODY", "text": "Order {{1}} is {{2}}"}
    assert _usable({"status": "APPROVED", "components": [body]})
    assert not _usable({"status": "REJECTED", "components": [body]})
    five = {"type": "BODY", "text": "{{1}} {{2}} {{3}} {{4}} {{5}}"}
    assert not _usable({"status": "APPROVED", "components": [five]})
    image = {"type": "HEADER", "format": "IMAGE"}
    assert not _usable({"status": "APPROVED", "components": [image, body]})
    header_var = {"type": "HEADER", "format": "TEXT", "text": "Hi {{1}}"}
    assert not _usable({"status": "APPROVED", "components": [header_var, body]})
    url = {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x.example/{{1}}"}]}
    assert not _usable({"status": "APPROVED", "components": [body, url]})
    named = {"type": "BODY", "text": "Hi {{customer}}"}
    assert not _usable({"status": "APPROVED", "components": [named]})
