"""API tokens: random, prefixed `wacrm_`, stored as SHA-256 hashes, named, listable, revocable."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.accounts.service import AccountError, AccountNotFoundError
from wacrm.i18n.text import Text
from wacrm.realtime import credentials as realtime

TOKEN_PREFIX = "wacrm_"  # noqa: S105 (a prefix, not a secret)
TOKEN_COLUMNS = "id, user_id, name, token_hint, created_at, last_used_at, expires_at, revoked_at"  # noqa: S105


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_token(conn: AsyncConnection[Any], *, user_id: UUID, name: str) -> str:
    """Create a named API token for the user and return it (the only time it is shown)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise AccountError(Text("the token name must have 1 to 100 characters"))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with conn.transaction():
        cur = await conn.execute("SELECT is_active FROM users WHERE id = %s", (user_id,))
        user = await cur.fetchone()
        if user is None:
            raise AccountNotFoundError(Text("no user with id {user_id}", user_id=user_id))
        if not user["is_active"]:
            raise AccountError(
                Text("this user is deactivated; reactivate it before creating tokens")
            )
        await conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, token_hint) VALUES (%s, %s, %s, %s)",
            (user_id, name, hash_token(token), token[-4:]),
        )
    return token


async def list_tokens(conn: AsyncConnection[Any], *, user_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = %s ORDER BY id", (user_id,)
    )
    return [dict(r) for r in await cur.fetchall()]


async def revoke_token(
    conn: AsyncConnection[Any], *, user_id: UUID, token_id: int
) -> dict[str, Any]:
    """Revoke one of the user's tokens (404 for tokens of others, so ids do not leak); the live
    streams opened with it end, in every process."""
    async with conn.transaction():
        cur = await conn.execute(
            f"""UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
                WHERE id = %s AND user_id = %s RETURNING {TOKEN_COLUMNS}""",
            (token_id, user_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise AccountNotFoundError(
                Text("you have no API token with id {token_id}", token_id=token_id)
            )
        await realtime.credentials_changed(conn, user_id=user_id)
    return dict(row)


async def user_for_token(conn: AsyncConnection[Any], token: str) -> dict[str, Any] | None:
    """The active user owning a valid (unrevoked, unexpired) token, or None; marks it used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    cur = await conn.execute(
        """SELECT t.id AS token_id, t.last_used_at > now() - interval '1 minute' AS fresh,
                  u.id, u.email, u.name, u.role::text AS role
           FROM api_tokens t JOIN users u ON u.id = t.user_id
           WHERE t.token_hash = %s AND t.revoked_at IS NULL
             AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.is_active""",
        (hash_token(token),),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    if not row["fresh"]:  # at most one write a minute per token
        await conn.execute(
            "UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (row["token_id"],)
        )
    return {k: row[k] for k in ("id", "email", "name", "role")}
