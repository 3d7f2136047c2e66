"""Browser sessions: login, server-side revocable sessions (hashed), CSRF tokens, logout, passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.accounts import service, throttle
from wacrm.accounts.passwords import dummy_verify, verify_password
from wacrm.accounts.service import AccountError
from wacrm.i18n.text import Text
from wacrm.realtime import credentials as realtime

SESSION_COOKIE = "wacrm_session"
IDLE_TIMEOUT = timedelta(days=7)  # a session unused this long expires (sliding)
ABSOLUTE_TIMEOUT = timedelta(days=30)  # and none lives longer than this
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
WRONG_CURRENT = "wrong passwords"  # the throttle's words for a password change's failures

WRONG = Text("wrong email or password")


class LoginError(AccountError):
    status = 401

    def __init__(self, message: str | Text = "wrong email or password") -> None:
        super().__init__(message)


def hash_session_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]]


async def login(
    connect: Connect, *, email: str, password: str, ip: str | None, user_agent: str | None
) -> tuple[str, str]:
    """Check the password (throttled) and open a new session: (session_token, csrf_token).

    Raises LoginThrottledError (429), LoginError (401). A fresh session id every time (no fixation).
    `connect` gives a short connection: none is held while Argon2 runs, so a storm of sign-ins
    does not take the pool from everyone else.
    """
    email_key = (email or "").strip().lower()
    async with connect() as conn:
        await throttle.check(conn, email=email_key, ip=ip)
        cur = await conn.execute(
            """SELECT u.id, u.email, u.is_active, c.password_hash
               FROM users u LEFT JOIN user_credentials c ON c.user_id = u.id
               WHERE lower(u.email) = %s""",
            (email_key,),
        )
        row = await cur.fetchone()
    if row is None or row["password_hash"] is None:
        await dummy_verify()
        ok, new_hash = False, None
    else:
        ok, new_hash = await verify_password(password or "", row["password_hash"])
    async with connect() as conn:
        if not ok:
            await throttle.record_failure(conn, email=email_key, ip=ip)
            raise LoginError(WRONG)
        assert row is not None
        if not row["is_active"]:
            raise LoginError(Text("this account is deactivated; ask an administrator"))
        await throttle.clear_account(conn, email=email_key)
        if new_hash:
            await conn.execute(
                "UPDATE user_credentials SET password_hash = %s WHERE user_id = %s",
                (new_hash, row["id"]),
            )
        return await open_session(conn, user_id=row["id"], ip=ip, user_agent=user_agent)


async def open_session(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at, ip, user_agent)
           VALUES (%s, %s, %s, now() + %s, %s, %s)""",
        (hash_session_token(token), user_id, csrf, IDLE_TIMEOUT, ip, (user_agent or "")[:300]),
    )
    return token, csrf


async def resolve_session(conn: AsyncConnection[Any], token: str) -> dict[str, Any] | None:
    """The session and its active user for a cookie value, or None; slides the expiry."""
    if not token or len(token) > 200:
        return None
    cur = await conn.execute(
        """SELECT s.id AS session_id, s.csrf_token, s.last_seen_at < now() - %s AS stale,
                  u.id, u.email, u.name, u.role::text AS role
           FROM user_sessions s JOIN users u ON u.id = s.user_id
           WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active""",
        (TOUCH_EVERY, hash_session_token(token)),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    if row["stale"]:
        await conn.execute(
            """UPDATE user_sessions SET last_seen_at = now(),
                   expires_at = least(created_at + %s, now() + %s) WHERE id = %s""",
            (ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, row["session_id"]),
        )
    return dict(row)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


async def logout(conn: AsyncConnection[Any], *, session_id: int) -> None:
    """Revoke the session; its live streams end, in every process."""
    async with conn.transaction():
        cur = await conn.execute(
            """UPDATE user_sessions SET revoked_at = now()
               WHERE id = %s AND revoked_at IS NULL RETURNING user_id""",
            (session_id,),
        )
        row = await cur.fetchone()
        if row is not None:
            await realtime.credentials_changed(conn, user_id=row["user_id"])


async def revoke_sessions(
    conn: AsyncConnection[Any], *, user_id: UUID, keep_session_id: int | None = None
) -> int:
    """Revoke every session of the user but `keep_session_id`; the number revoked (their live
    streams end, in every process)."""
    async with conn.transaction():
        cur = await conn.execute(
            """UPDATE user_sessions SET revoked_at = now()
               WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s""",
            (user_id, keep_session_id),
        )
        if cur.rowcount:
            await realtime.credentials_changed(conn, user_id=user_id)
    return cur.rowcount


async def change_password(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    current_password: str,
    new_password: str,
    keep_session_id: int | None = None,
    ip: str | None = None,
) -> None:
    """Change one's own password (the current one is required); other sessions are revoked.

    The current-password check is throttled like sign-in (same account and address counts), so a
    session cannot be used to guess the password: LoginThrottledError (429)."""
    cur = await conn.execute(
        """SELECT u.email, c.password_hash FROM users u
           LEFT JOIN user_credentials c ON c.user_id = u.id WHERE u.id = %s""",
        (user_id,),
    )
    row = await cur.fetchone()
    email = (row["email"] if row else "").strip().lower()
    await throttle.check(conn, email=email, ip=ip, attempts=WRONG_CURRENT)
    if row is None or row["password_hash"] is None:
        raise AccountError(Text("the current password is wrong"), status=403)
    if not (await verify_password(current_password or "", row["password_hash"]))[0]:
        await throttle.record_failure(conn, email=email, ip=ip)
        raise AccountError(Text("the current password is wrong"), status=403)
    async with conn.transaction():
        await service.set_password(conn, user_id=user_id, password=new_password)
        await revoke_sessions(conn, user_id=user_id, keep_session_id=keep_session_id)
    await throttle.clear_account(conn, email=email)


async def reset_password(conn: AsyncConnection[Any], *, user_id: UUID, new_password: str) -> None:
    """An admin sets a user's password; all the user's sessions are revoked."""
    async with conn.transaction():
        await service.set_password(conn, user_id=user_id, password=new_password)
        await revoke_sessions(conn, user_id=user_id)
