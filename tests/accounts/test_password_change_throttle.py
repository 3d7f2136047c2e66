"""The current-password check of a password change is throttled like sign-in (issue 13 item 6)."""

from __future__ import annotations

import httpx

from tests.web.conftest import PASSWORD, sign_in, user_with_password

NEW = "a brand new passphrase"


async def api_change(client: httpx.AsyncClient, csrf: str, current: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/password",
        json={"current_password": current, "new_password": NEW},
        headers={"X-CSRF-Token": csrf},
    )


async def page_change(client: httpx.AsyncClient, csrf: str, current: str) -> httpx.Response:
    return await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": current,
            "new_password": NEW,
            "confirm_password": NEW,
        },
    )


async def password_is_still_the_old_one(client: httpx.AsyncClient) -> bool:
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    return response.status_code == 200


async def test_api_guesses_slow_down_then_lock(client, conn) -> None:
    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    for _ in range(5):
        assert (await api_change(client, csrf, "a wrong guess 1")).status_code == 403
    locked = await api_change(client, csrf, PASSWORD)  # the right one, too soon
    assert locked.status_code == 429, locked.text
    assert "too many wrong passwords" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) >= 1
    # ten failures lock it for 15 minutes, as sign-in
    await conn.execute("UPDATE login_throttle SET failures = 9, locked_until = NULL")
    assert (await api_change(client, csrf, "a wrong guess 2")).status_code == 403
    locked = await api_change(client, csrf, PASSWORD)
    assert locked.status_code == 429 and 800 < int(locked.headers["Retry-After"]) <= 900
    await conn.execute("UPDATE login_throttle SET locked_until = NULL")  # the wait is over
    assert await password_is_still_the_old_one(client)


async def test_page_guesses_are_throttled_with_the_error_on_the_page(client, conn) -> None:
    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    for _ in range(5):
        wrong = await page_change(client, csrf, "a wrong guess 1")
        assert wrong.status_code == 403 and "current password is wrong" in wrong.text
    locked = await page_change(client, csrf, PASSWORD)
    assert locked.status_code == 429
    assert "too many wrong passwords for this" in locked.text and "try again in" in locked.text
    assert 'role="alert"' in locked.text and "Retry-After" in locked.headers


async def test_guesses_count_with_sign_in_failures_and_success_clears(client, conn) -> None:
    """Both guess the same password: they share the account's count; a success clears it."""
    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    for _ in range(4):
        assert (await api_change(client, csrf, "a wrong guess 1")).status_code == 403
    wrong_sign_in = await client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": "wrong again 123"}
    )
    assert wrong_sign_in.status_code == 401  # the fifth failure
    assert (await api_change(client, csrf, PASSWORD)).status_code == 429
    await conn.execute("UPDATE login_throttle SET locked_until = NULL")
    assert (await api_change(client, csrf, PASSWORD)).status_code == 204
    cur = await conn.execute("SELECT count(*) AS n FROM login_throttle WHERE key LIKE 'account:%'")
    assert (await cur.fetchone())["n"] == 0


async def test_a_locked_check_costs_no_hashing(client, conn, monkeypatch) -> None:
    """While locked the password is not even verified (no Argon2 time to spend on guesses)."""
    from wacrm.accounts import passwords

    await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    await conn.execute(
        "INSERT INTO login_throttle (key, failures, last_failure_at, locked_until)"
        " VALUES ('account:ann@example.com', 10, now(), now() + interval '15 minutes')"
    )
    calls: list[str] = []
    real = passwords._verify_sync
    monkeypatch.setattr(passwords, "_verify_sync", lambda *a: calls.append("v") or real(*a))
    assert (await api_change(client, csrf, PASSWORD)).status_code == 429
    assert calls == []
