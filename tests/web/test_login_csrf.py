"""Login CSRF (issue 13 item 3): another site's page cannot sign a victim into an account, nor out."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD, login_csrf_of, post_login, sign_in, user_with_password
from wacrm.accounts.sessions import SESSION_COOKIE
from wacrm.web.login_guard import LOGIN_CSRF_COOKIE

CREDENTIALS = {"email": "mallory@example.com", "password": PASSWORD}


@pytest.fixture
async def mallory(conn):
    """The attacker's own account, into which a cross-site post would sign the victim."""
    return await user_with_password(conn, "mallory@example.com")


async def throttle_rows(conn) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM login_throttle")
    return (await cur.fetchone())["n"]


async def test_the_form_without_its_token_is_refused(client, conn, mallory) -> None:
    """A cross-site form post carries no pre-session token: 403, no session, nothing counted."""
    response = await client.post("/login", data=CREDENTIALS)
    assert response.status_code == 403
    assert "sent from another site" in response.text
    assert SESSION_COOKIE not in response.cookies
    assert 'value="mallory@example.com"' in response.text  # the typed email is kept
    assert login_csrf_of(response.text)  # and the page can be sent again
    assert await throttle_rows(conn) == 0
    assert (await client.get("/inbox")).status_code == 303  # not signed in


async def test_a_token_from_another_browser_is_refused(app, client, mallory) -> None:
    """The attacker can get a token of its own; without the victim's cookie it does not match."""
    import httpx

    attacker_page = await client.get("/login")
    token = login_csrf_of(attacker_page.text)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as victim:
        response = await victim.post("/login", data={**CREDENTIALS, "csrf_token": token})
        assert response.status_code == 403
        await victim.get("/login")  # the victim has a cookie now, but not the attacker's
        response = await victim.post("/login", data={**CREDENTIALS, "csrf_token": token})
        assert response.status_code == 403
        assert SESSION_COOKIE not in victim.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver.evil.example"},
    ],
)
async def test_the_form_from_another_origin_is_refused_even_with_the_token(
    client, mallory, headers
) -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login", data={**CREDENTIALS, "csrf_token": login_csrf_of(page.text)}, headers=headers
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/login?next=/orders"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    ],
)
async def test_the_form_from_the_page_signs_in(client, mallory, headers) -> None:
    page = await client.get("/login")
    assert LOGIN_CSRF_COOKIE in client.cookies
    response = await client.post(
        "/login", data={**CREDENTIALS, "csrf_token": login_csrf_of(page.text)}, headers=headers
    )
    assert response.status_code == 303, response.text
    assert response.cookies.get(SESSION_COOKIE)
    assert LOGIN_CSRF_COOKIE not in client.cookies  # used up


async def test_a_wrong_password_keeps_a_usable_form(client, mallory) -> None:
    bad = await post_login(client, {"email": "mallory@example.com", "password": "wrong one 123"})
    assert bad.status_code == 401
    good = await client.post("/login", data={**CREDENTIALS, "csrf_token": login_csrf_of(bad.text)})
    assert good.status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_the_json_login_from_another_site_is_refused(client, conn, mallory, headers) -> None:
    response = await client.post("/api/v1/auth/login", json=CREDENTIALS, headers=headers)
    assert response.status_code == 403
    assert "another site" in response.json()["detail"]
    assert SESSION_COOKIE not in response.cookies
    assert await throttle_rows(conn) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "http://testserver"}, {"Referer": "http://testserver/login"}],
)
async def test_the_json_login_from_the_crm_or_a_script_works(client, mallory, headers) -> None:
    response = await client.post("/api/v1/auth/login", json=CREDENTIALS, headers=headers)
    assert response.status_code == 200, response.text
    assert response.cookies.get(SESSION_COOKIE)


async def test_the_public_url_is_an_own_origin(app, client, mallory) -> None:
    """Behind a proxy the Host may differ from WACRM_PUBLIC_URL; the public origin is ours too."""
    app.state.settings.public_url = "https://crm.example.com"
    response = await client.post(
        "/api/v1/auth/login", json=CREDENTIALS, headers={"Origin": "https://crm.example.com"}
    )
    assert response.status_code == 200


async def test_sign_out_needs_the_session_csrf_token(client, mallory) -> None:
    csrf = await sign_in(client, "mallory@example.com")
    assert (await client.post("/logout")).status_code == 403
    assert (await client.post("/api/v1/auth/logout")).status_code == 403
    assert (await client.get("/inbox")).status_code == 200  # still signed in
    out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert (await client.get("/inbox")).status_code == 303


async def test_the_form_sign_out_with_its_token(client, mallory) -> None:
    csrf = await sign_in(client, "mallory@example.com")
    out = await client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await client.get("/inbox")).status_code == 303
