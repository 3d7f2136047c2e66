"""Users: create, read, update, deactivate; passwords."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from email_validator import EmailNotValidError, validate_email
from psycopg import AsyncConnection

from wacrm.accounts.passwords import WeakPasswordError, check_password_rule, hash_password
from wacrm.errors import AppError, NotFoundError
from wacrm.i18n.text import Text
from wacrm.realtime import credentials as realtime

ROLES = ("admin", "agent")
USER_COLUMNS = "id, email, name, role::text AS role, is_active, created_at, updated_at"


class AccountError(AppError, ValueError):
    """A user cannot be created or changed as asked (the message says why; 400 unless said)."""


class AccountNotFoundError(AccountError, NotFoundError):
    def __init__(self, message: str | Text = "no such user") -> None:
        super().__init__(message)


def normalize_email(email: str | None) -> str:
    """The validated, normalized address (domain lower-cased); AccountError if malformed."""
    if not isinstance(email, str) or not email.strip():
        raise AccountError(Text("the email address is empty"))
    email = email.strip()
    local, _, domain = email.rpartition("@")
    try:
        if domain.lower() == "localhost" and local:  # the first admin's default address
            validate_email(f"{local}@example.com", check_deliverability=False)
            return f"{local}@localhost".lower()
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(
            Text("the email address {email} is not valid: {why}", email=repr(email), why=exc)
        ) from exc


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(
            Text("unknown role {role}: it must be one of {roles}", role=repr(role), roles=ROLES)
        )
    return role


def validate_name(name: str | None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise AccountError(Text("the name is empty"))
    if len(name) > 200:
        raise AccountError(Text("the name is too long (at most 200 characters)"))
    return name.strip()


async def create_user(
    conn: AsyncConnection[Any],
    *,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
) -> dict[str, Any]:
    """Create a user (with an Argon2id password if given; without one it can use API tokens only)."""
    email = normalize_email(email)
    name = validate_name(name)
    validate_role(role)
    password_hash = None
    if password is not None:
        try:
            check_password_rule(password, email=email)
        except WeakPasswordError as exc:
            raise AccountError(exc.args[0]) from exc
        password_hash = await hash_password(password)
    async with conn.transaction():
        try:
            cur = await conn.execute(
                f"INSERT INTO users (email, name, role) VALUES (%s, %s, %s) RETURNING {USER_COLUMNS}",
                (email, name, role),
            )
        except psycopg.errors.UniqueViolation as exc:
            raise AccountError(
                Text("a user with email {email} already exists", email=email), status=409
            ) from exc
        user = await cur.fetchone()
        assert user is not None
        if password_hash is not None:
            await conn.execute(
                "INSERT INTO user_credentials (user_id, password_hash) VALUES (%s, %s)",
                (user["id"], password_hash),
            )
    return dict(user)


async def get_user(conn: AsyncConnection[Any], *, user_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
    row = await cur.fetchone()
    if row is None:
        raise AccountNotFoundError(Text("no user with id {id}", id=user_id))
    return dict(row)


async def get_user_by_email(conn: AsyncConnection[Any], *, email: str) -> dict[str, Any]:
    email = normalize_email(email)
    cur = await conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = %s", (email,))
    row = await cur.fetchone()
    if row is None:
        raise AccountNotFoundError(Text("no user with email {email}", email=email))
    return dict(row)


async def list_users(
    conn: AsyncConnection[Any], *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Users by creation (all, or `limit` from `offset`) with their agent's id."""
    cur = await conn.execute(
        f"""SELECT {USER_COLUMNS}, (SELECT a.id FROM agents a WHERE a.user_id = users.id) AS agent_id
            FROM users ORDER BY created_at, email LIMIT %s OFFSET %s""",
        (limit, offset),
    )
    return [dict(r) for r in await cur.fetchall()]


async def count_users(conn: AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM users")
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def users_without(
    conn: AsyncConnection[Any], what: str, *, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Users without an agent (`what` "agent") or a WhatsApp number ("number"), by email:
    the first `limit` of them and how many there are."""
    table = {"agent": "agents", "number": "whatsapp_configuration"}[what]
    cur = await conn.execute(
        f"""SELECT u.id, u.email, u.name, count(*) OVER () AS total FROM users u
            WHERE NOT EXISTS (SELECT FROM {table} t WHERE t.user_id = u.id)
            ORDER BY u.email LIMIT %s""",  # noqa: S608 (a table name from the dict above)
        (limit,),
    )
    rows = [dict(r) for r in await cur.fetchall()]
    return [{k: r[k] for k in ("id", "email", "name")} for r in rows], (
        int(rows[0]["total"]) if rows else 0
    )


async def update_user(
    conn: AsyncConnection[Any], *, user_id: UUID, name: str | None = None, role: str | None = None
) -> dict[str, Any]:
    """Change a user's name and/or role."""
    if name is not None:
        name = validate_name(name)
    if role is not None:
        validate_role(role)
    cur = await conn.execute(
        f"""UPDATE users SET name = coalesce(%s, name), role = coalesce(%s::user_role, role),
                updated_at = now() WHERE id = %s RETURNING {USER_COLUMNS}""",
        (name, role, user_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise AccountNotFoundError(Text("no user with id {id}", id=user_id))
    if role is not None:  # a role may open or close workspaces: live streams re-check
        await realtime.credentials_changed(conn, user_id=user_id)
    return dict(row)


async def set_active(conn: AsyncConnection[Any], *, user_id: UUID, active: bool) -> dict[str, Any]:
    """Deactivate (or reactivate) a user; deactivation also revokes its sessions and tokens."""
    async with conn.transaction():
        cur = await conn.execute(
            f"UPDATE users SET is_active = %s, updated_at = now() WHERE id = %s RETURNING {USER_COLUMNS}",
            (active, user_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise AccountNotFoundError(Text("no user with id {id}", id=user_id))
        if not active:
            await conn.execute(
                "UPDATE user_sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
            await realtime.credentials_changed(conn, user_id=user_id)  # live streams end
    return dict(row)


async def set_password(conn: AsyncConnection[Any], *, user_id: UUID, password: str) -> None:
    """Store a new password (rule checked); the caller decides which sessions to revoke."""
    user = await get_user(conn, user_id=user_id)
    try:
        check_password_rule(password, email=user["email"])
    except WeakPasswordError as exc:
        raise AccountError(exc.args[0]) from exc
    password_hash = await hash_password(password)
    await conn.execute(
        """INSERT INTO user_credentials (user_id, password_hash) VALUES (%s, %s)
           ON CONFLICT (user_id) DO UPDATE
           SET password_hash = excluded.password_hash, password_changed_at = now()""",
        (user_id, password_hash),
    )


async def admin_exists(conn: AsyncConnection[Any]) -> bool:
    cur = await conn.execute("SELECT 1 FROM users WHERE role = 'admin' AND is_active LIMIT 1")
    return await cur.fetchone() is not None
