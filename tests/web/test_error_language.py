"""A service's error is shown in the viewer's language on pages; the JSON API keeps English."""

from __future__ import annotations

from tests.helpers import bearer
from tests.web.conftest import sign_in, user_with_password
from wacrm.accounts.tokens import create_token
from wacrm.orders import service as orders


async def _order(conn, ana):
    cur = await conn.execute(
        ana["tables"].query(
            "INSERT INTO {customers} (name, phone) VALUES ('Bia', '5511900000001') RETURNING id"
        )
    )
    customer_id = (await cur.fetchone())["id"]
    order = await orders.create_order(conn, tables=ana["tables"], customer_id=customer_id)
    return order["id"]


async def test_an_order_error_is_shown_in_the_users_language(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    order_id = await _order(conn, ana)
    csrf = await sign_in(client, "ana@example.com")
    saved = await client.post(
        "/account/preferences", data={"csrf_token": csrf, "language": "pt_BR", "time_zone": ""}
    )
    assert saved.status_code == 303
    # the browser asks for German: the user's saved language wins, also for errors
    headers = {"Accept-Language": "de"}
    bad = await client.post(
        f"/orders/{order_id}/items",
        data={"csrf_token": csrf, "name": "Caneca", "quantity": "2", "price": "1.005"},
        headers=headers,
    )
    assert bad.status_code == 422
    assert "preço 1.005 tem mais de 2 casas decimais, o máximo que USD permite" in bad.text
    assert "decimal places" not in bad.text
    moved = await client.post(
        f"/orders/{order_id}/status",
        data={"csrf_token": csrf, "status": "delivered"},
        headers=headers,
    )
    assert moved.status_code == 409
    assert "um pedido não pode passar de pendente para entregue" in moved.text
    missing = await client.post(
        "/orders/999999/items",
        data={"csrf_token": csrf, "name": "x", "quantity": "1", "price": "1"},
        headers=headers,
    )
    assert missing.status_code == 404
    assert "não há pedido com id 999999 neste espaço de trabalho" in missing.text
    assert "Não encontrado" in missing.text  # the error page's title too


async def test_the_api_answers_in_english_whatever_the_language(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    order_id = await _order(conn, ana)
    token = await create_token(conn, user_id=ana["user"]["id"], name="tests")
    answer = await client.post(
        f"/api/v1/orders/{order_id}/items",
        json={"name": "Mug", "quantity": 1, "price": "1.005"},
        headers={**bearer(token), "Accept-Language": "pt-BR"},
    )
    assert answer.status_code == 422
    assert "more than 2 decimal places, the most USD allows" in answer.json()["detail"]


async def test_team_errors_and_notices_speak_german(client, conn):
    await user_with_password(conn, "ana@example.com")
    csrf = await sign_in(client, "ana@example.com")
    await client.post(
        "/account/preferences", data={"csrf_token": csrf, "language": "de", "time_zone": ""}
    )
    unknown = await client.post(
        "/team/members", data={"csrf_token": csrf, "email": "nobody@example.com"}
    )
    assert unknown.status_code == 404
    assert (
        "kein Benutzer mit der E-Mail nobody@example.com: legen Sie zuerst den Benutzer an"
        in unknown.text
    )
    await user_with_password(conn, "bo@example.com", agent=False)
    added = await client.post("/team/members", data={"csrf_token": csrf, "email": "bo@example.com"})
    assert added.status_code == 303
    page = await client.get(added.headers["location"])
    assert "Mitglied hinzugefügt." in page.text


async def test_sign_in_and_password_errors_follow_the_browser_language(client, conn):
    from tests.web.conftest import login_csrf_of

    await user_with_password(conn, "ana@example.com")
    headers = {"Accept-Language": "pt-BR,pt;q=0.9"}
    page = await client.get("/login", headers=headers)
    wrong = await client.post(
        "/login",
        data={
            "csrf_token": login_csrf_of(page.text),
            "email": "ana@example.com",
            "password": "not the password",
        },
        headers=headers,
    )
    assert wrong.status_code == 401 and "e-mail ou senha incorretos" in wrong.text


async def test_an_orders_history_and_source_are_in_the_users_language(client, conn):
    ana = await user_with_password(conn, "ana@example.com")
    order_id = await _order(conn, ana)
    csrf = await sign_in(client, "ana@example.com")
    headers = {"Accept-Language": "de"}
    moved = await client.post(
        f"/orders/{order_id}/status",
        data={"csrf_token": csrf, "status": "confirmed"},
        headers=headers,
    )
    assert moved.status_code in (200, 303)
    page = await client.get(f"/orders/{order_id}", headers=headers)
    history = page.text.split('id="order-history"')[1].split("</ol>")[0]
    assert "offen → <strong>bestätigt</strong>" in history
    assert "pending" not in history and "confirmed" not in history.replace("bestätigt", "")
    assert "von Hand erfasst" in page.text and "Quelle: manual" not in page.text
