"""Browser sessions: cookie flags, CSRF, logout, expiry, throttling, password change and reset."""

from __future__ import annotations

from tests.helpers import bearer, make_admin
from wacrm.accounts import sessions
from wacrm.accounts.service import create_user

PASSWORD = "a long enough passphrase"


async def _user(conn, email="ann@example.com", role="agent"):
    return await create_user(conn, email=email, name="Ann", role=role, password=PASSWORD)


async def _login(client, email="ann@example.com", password=PASSWORD):
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_login_sets_secure_cookie_and_new_session_each_time(client, conn):
    await _user(conn)
    r1 = await _login(client)
    assert r1.status_code == 200, r1.text
    cookie = r1.headers["set-cookie"]
    assert (
        "wacrm_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    assert "Secure" not in cookie  # WACRM_PUBLIC_URL is http in tests
    first = r1.cookies["wacrm_session"]
    r2 = await _login(client)
    assert r2.cookies["wacrm_session"] != first  # no fixation: a fresh id per login
    cur = await conn.execute("SELECT token_hash FROM user_sessions")
    hashes = [bytes(r["token_hash"]) for r in await cur.fetchall()]
    assert len(hashes) == 2 and first.encode() not in hashes
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["email"] == "ann@example.com"


def test_cookie_is_secure_behind_https():
    from starlette.responses import Response

    from wacrm.accounts.router import set_session_cookie

    response = Response()
    set_session_cookie(response, "tok", secure=True)
    assert "Secure" in response.headers["set-cookie"]


async def test_wrong_password_and_unknown_user_are_401(client, conn):
    await _user(conn)
    assert (await _login(client, password="wrong password!")).status_code == 401
    r = await _login(client, email="nobody@example.com")
    assert r.status_code == 401 and r.json()["detail"] == "wrong email or password"
    cur = await conn.execute("SELECT count(*) AS n FROM user_sessions")
    assert (await cur.fetchone())["n"] == 0


async def test_csrf_required_for_cookie_writes_not_for_bearer(client, conn):
    user = await _user(conn)
    r = await _login(client)
    csrf = r.json()["csrf_token"]
    r = await client.post("/api/v1/tokens", json={"name": "x"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = await client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/tokens",
        data={"name": "x"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 403  # a form post without csrf_token
    cur = await conn.execute("SELECT count(*) AS n FROM api_tokens")
    assert (await cur.fetchone())["n"] == 0
    r = await client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    token = r.json()["token"]
    client.cookies.clear()
    r = await client.post("/api/v1/tokens", json={"name": "y"}, headers=bearer(token))
    assert r.status_code == 201  # bearer requests are exempt
    assert len((await client.get("/api/v1/tokens", headers=bearer(token))).json()) == 2
    assert user["id"]


async def test_logout_revokes_the_session(client, conn):
    await _user(conn)
    csrf = (await _login(client)).json()["csrf_token"]
    cookie = client.cookies["wacrm_session"]
    r = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    client.cookies.set("wacrm_session", cookie)  # a stolen copy of the old cookie
    r = await client.get("/api/v1/auth/me")
    assert r.status_code == 401 and "log in again" in r.json()["detail"]


async def test_forged_and_expired_sessions_are_401(client, conn):
    await _user(conn)
    client.cookies.set("wacrm_session", "forged-session-value")
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    await _login(client)
    await conn.execute("UPDATE user_sessions SET expires_at = now() - interval '1 second'")
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_session_expiry_slides(conn):
    user = await _user(conn)
    token, _ = await sessions.open_session(conn, user_id=user["id"])
    await conn.execute(
        "UPDATE user_sessions SET last_seen_at = now() - interval '2 days', "
        "expires_at = now() + interval '1 hour'"
    )
    assert await sessions.resolve_session(conn, token) is not None
    cur = await conn.execute(
        "SELECT expires_at > now() + interval '6 days' AS slid FROM user_sessions"
    )
    assert (await cur.fetchone())["slid"]


async def test_throttling_slows_then_locks(client, conn):
    await _user(conn)
    for _ in range(5):
        assert (await _login(client, password="wrong password!")).status_code == 401
    r = await _login(client)  # the right password, but too soon after 5 failures
    assert r.status_code == 429 and "try again in" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    # ten failures lock the account for 15 minutes
    await conn.execute("UPDATE login_throttle SET failures = 9, locked_until = NULL")
    assert (await _login(client, password="wrong password!")).status_code == 401
    r = await _login(client)
    assert r.status_code == 429 and "minutes" in r.json()["detail"]
    assert 800 < int(r.headers["Retry-After"]) <= 900
    await conn.execute("UPDATE login_throttle SET locked_until = now() - interval '1 second'")
    await conn.execute("DELETE FROM login_throttle WHERE key LIKE 'ip:%'")
    assert (await _login(client)).status_code == 200
    cur = await conn.execute("SELECT count(*) AS n FROM login_throttle WHERE key LIKE 'account:%'")
    assert (await cur.fetchone())["n"] == 0  # success clears the account's count


async def test_throttling_by_client_address_across_accounts(client, conn):
    await _user(conn)
    for i in range(10):
        await _login(client, email=f"guess{i}@example.com", password="wrong password!")
    r = await _login(client)  # another account, same address
    assert r.status_code == 429 and "address" in r.json()["detail"]


async def test_password_change_needs_current_and_revokes_other_sessions(client, conn):
    user = await _user(conn)
    other_token, _ = await sessions.open_session(conn, user_id=user["id"])
    csrf = (await _login(client)).json()["csrf_token"]
    h = {"X-CSRF-Token": csrf}
    r = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "nope nope nope", "new_password": "x" * 12},
        headers=h,
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=h,
    )
    assert r.status_code == 400 and "too short" in r.json()["detail"]
    r = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=h,
    )
    assert r.status_code == 204
    assert await sessions.resolve_session(conn, other_token) is None
    assert (await client.get("/api/v1/auth/me")).status_code == 200  # this session stays
    client.cookies.clear()
    assert (await _login(client)).status_code == 401
    assert (await _login(client, password="a brand new passphrase")).status_code == 200


async def test_admin_password_reset_and_deactivation(client, conn):
    admin = await make_admin(conn)
    user = await _user(conn)
    token, _ = await sessions.open_session(conn, user_id=user["id"])
    r = await client.post(
        f"/api/v1/users/{user['id']}/password",
        json={"new_password": "reset by the admin"},
        headers=bearer(admin["token"]),
    )
    assert r.status_code == 204
    assert await sessions.resolve_session(conn, token) is None
    assert (await _login(client, password="reset by the admin")).status_code == 200
    client.cookies.clear()
    r = await client.post(f"/api/v1/users/{user['id']}/deactivate", headers=bearer(admin["token"]))
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = await _login(client, password="reset by the admin")
    assert r.status_code == 401 and "deactivated" in r.json()["detail"]
