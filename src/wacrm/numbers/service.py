"""WhatsApp configurations: configure, read (masked or decrypted), route by phone_number_id."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql

from wacrm.errors import AppError
from wacrm.i18n.text import Text
from wacrm.security.crypto import decrypt_secret, encrypt_secret, mask


class NumberError(AppError, ValueError):
    """A WhatsApp configuration cannot be saved as asked (the message says why; 400 unless said;
    `field` the input at fault)."""


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """The configuration as shown to people: secrets replaced by masked hints."""
    out = {k: v for k, v in row.items() if k not in ("api_key", "app_secret", "verify_token")}
    out["access_token_hint"] = mask(decrypt_secret(row["api_key"])) if row.get("api_key") else None
    out["app_secret_hint"] = (
        mask(decrypt_secret(row["app_secret"])) if row.get("app_secret") else None
    )
    out["verify_token_hint"] = mask(row["verify_token"]) if row.get("verify_token") else None
    return out


def _check_text(
    name: str, value: str | None, *, required: bool = False, max_len: int = 512
) -> None:
    if value is None:
        if required:
            raise NumberError(Text("{name} is required", name=name), field=name)
        return
    if not isinstance(value, str) or not value.strip():
        raise NumberError(Text("{name} must not be empty", name=name), field=name)
    if len(value) > max_len:
        raise NumberError(
            Text("{name} is too long (at most {max} characters)", name=name, max=max_len),
            field=name,
        )


_UPDATE = """UPDATE whatsapp_configuration SET
  whatsapp_number = coalesce(%(whatsapp_number)s, whatsapp_number),
  phone_number_id = coalesce(%(phone_number_id)s, phone_number_id),
  business_account_id = coalesce(%(business_account_id)s, business_account_id),
  api_key = coalesce(%(api_key)s, api_key),
  app_secret = coalesce(%(app_secret)s, app_secret),
  verify_token = coalesce(%(verify_token)s, verify_token, %(generated_token)s),
  is_active = coalesce(%(is_active)s, is_active),
  messages_per_second = coalesce(%(messages_per_second)s, messages_per_second),
  webhook_url = %(webhook_url)s, needs_attention = NULL, updated_at = now()
WHERE user_id = %(user_id)s RETURNING *"""
_INSERT = """INSERT INTO whatsapp_configuration
  (user_id, whatsapp_number, webhook_url, api_key, business_account_id,
   phone_number_id, is_active, app_secret, verify_token, messages_per_second)
VALUES (%(user_id)s, %(whatsapp_number)s, %(webhook_url)s, %(api_key)s,
   %(business_account_id)s, %(phone_number_id)s, coalesce(%(is_active)s, true),
   %(app_secret)s, coalesce(%(verify_token)s, %(generated_token)s),
   coalesce(%(messages_per_second)s, 80))
RETURNING *"""


async def _check_owner(
    conn: AsyncConnection[Any], user_id: UUID, phone_number_id: str | None
) -> None:
    """NumberError when the user does not exist (404) or another user has this number (409)."""
    cur = await conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,))
    if await cur.fetchone() is None:
        raise NumberError(Text("no user with id {id}", id=user_id), status=404, field="user_id")
    if phone_number_id:
        cur = await conn.execute(
            "SELECT 1 FROM whatsapp_configuration WHERE phone_number_id = %s AND user_id <> %s",
            (phone_number_id, user_id),
        )
        if await cur.fetchone() is not None:
            raise NumberError(
                Text(
                    "phone number id {id} is already configured for another user",
                    id=phone_number_id,
                ),
                status=409,
                field="phone_number_id",
            )


async def configure(  # noqa: PLR0913 - its keyword arguments are the configuration's columns
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    webhook_url: str,
    whatsapp_number: str | None = None,
    phone_number_id: str | None = None,
    business_account_id: str | None = None,
    access_token: str | None = None,
    app_secret: str | None = None,
    verify_token: str | None = None,
    is_active: bool | None = None,
    messages_per_second: int | None = None,
) -> dict[str, Any]:
    """Create or update the user's configuration (one per user); fields left None keep their value.

    `webhook_url` is where Meta posts this number's webhooks (`settings.webhook_url`)."""
    for name, value in (
        ("whatsapp_number", whatsapp_number),
        ("phone_number_id", phone_number_id),
        ("business_account_id", business_account_id),
        ("verify_token", verify_token),
    ):
        _check_text(name, value, max_len=128)
    _check_text("access_token", access_token, max_len=4096)
    _check_text("app_secret", app_secret, max_len=512)
    if phone_number_id is not None and not phone_number_id.strip().isdigit():
        raise NumberError(
            Text("phone_number_id must be the numeric id Meta shows for the number"),
            field="phone_number_id",
        )
    if messages_per_second is not None and messages_per_second < 1:
        raise NumberError(
            Text("messages_per_second must be at least 1"), field="messages_per_second"
        )
    values: dict[str, Any] = {
        "whatsapp_number": whatsapp_number.strip() if whatsapp_number else None,
        "phone_number_id": phone_number_id.strip() if phone_number_id else None,
        "business_account_id": business_account_id.strip() if business_account_id else None,
        "api_key": encrypt_secret(access_token) if access_token else None,
        "app_secret": encrypt_secret(app_secret) if app_secret else None,
        "verify_token": verify_token,
        "generated_token": secrets.token_urlsafe(24),  # when none is given or stored
        "is_active": is_active,
        "messages_per_second": messages_per_second,
        "user_id": user_id,
        "webhook_url": webhook_url,
    }
    async with conn.transaction():
        await _check_owner(conn, user_id, values["phone_number_id"])
        cur = await conn.execute(
            "SELECT id FROM whatsapp_configuration WHERE user_id = %s", (user_id,)
        )
        exists = await cur.fetchone() is not None
        if not exists and not values["whatsapp_number"]:
            raise NumberError(
                Text("whatsapp_number is required for a new configuration"),
                field="whatsapp_number",
            )
        try:
            cur = await conn.execute(_UPDATE if exists else _INSERT, values)
        except psycopg.errors.UniqueViolation as exc:
            raise NumberError(
                Text("this phone number id is already configured for another user"),
                status=409,
                field="phone_number_id",
            ) from exc
        row = await cur.fetchone()
    assert row is not None
    return _public(dict(row))


async def get_for_user(conn: AsyncConnection[Any], *, user_id: UUID) -> dict[str, Any] | None:
    """The user's configuration with masked secrets, or None."""
    cur = await conn.execute("SELECT * FROM whatsapp_configuration WHERE user_id = %s", (user_id,))
    row = await cur.fetchone()
    return _public(dict(row)) if row else None


async def get_public(conn: AsyncConnection[Any], *, config_id: int) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT * FROM whatsapp_configuration WHERE id = %s", (config_id,))
    row = await cur.fetchone()
    return _public(dict(row)) if row else None


async def list_configurations(
    conn: AsyncConnection[Any],
    *,
    config_id: int | None = None,
    user_id: UUID | str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Configurations (masked) with the user's email and linked agent id, by id: all, a page
    (`limit` from `offset`), one (`config_id`) or a user's."""
    where: sql.Composable = sql.SQL("TRUE")
    if config_id is not None:
        where = sql.SQL("w.id = {}").format(config_id)
    elif user_id is not None:
        where = sql.SQL("w.user_id = {}::uuid").format(str(user_id))
    cur = await conn.execute(
        sql.SQL(
            """SELECT w.*, u.email AS user_email, a.id AS agent_id FROM whatsapp_configuration w
               JOIN users u ON u.id = w.user_id LEFT JOIN agents a ON a.user_id = w.user_id
               WHERE {} ORDER BY w.id LIMIT {} OFFSET {}"""
        ).format(where, limit, offset)
    )
    return [_public(dict(r)) for r in await cur.fetchall()]


async def history_imports(
    conn: AsyncConnection[Any], phone_number_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The chat-history import of these coexistence numbers (by phone_number_id): its progress
    (Meta's 0-100), chunks and messages so far, when the last chunk came, or the declined share."""
    cur = await conn.execute(
        """SELECT phone_number_id, max(progress) AS progress, count(*) AS chunks,
                  sum(messages)::int AS messages, max(received_at) AS last_at,
                  (array_agg(error_title ORDER BY received_at DESC)
                     FILTER (WHERE error_code IS NOT NULL))[1] AS declined
           FROM history_chunks WHERE phone_number_id = ANY(%s) GROUP BY phone_number_id""",
        (phone_number_ids,),
    )
    return {r["phone_number_id"]: r for r in await cur.fetchall()}


_ROUTING_SQL = """
    SELECT w.id, w.user_id, w.whatsapp_number, w.phone_number_id, w.business_account_id,
           w.api_key, w.app_secret, w.verify_token, w.is_active, w.messages_per_second,
           w.needs_attention, a.id AS agent_id, a.agent_prefix, a.is_active AS agent_is_active
    FROM whatsapp_configuration w LEFT JOIN agents a ON a.user_id = w.user_id
"""


def _decrypted(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    api_key = out.pop("api_key")
    out["access_token"] = decrypt_secret(api_key) if api_key else None
    out["app_secret"] = decrypt_secret(row["app_secret"]) if row["app_secret"] else None
    return out


async def get_by_phone_number_id(
    conn: AsyncConnection[Any], phone_number_id: str
) -> dict[str, Any] | None:
    """The configuration for Meta's phone_number_id with decrypted access_token and app_secret,
    verify_token, is_active, and the linked agent's agent_id and agent_prefix (None if unlinked)."""
    cur = await conn.execute(_ROUTING_SQL + " WHERE w.phone_number_id = %s", (phone_number_id,))
    row = await cur.fetchone()
    return _decrypted(dict(row)) if row else None


async def get_by_user_id(conn: AsyncConnection[Any], *, user_id: UUID) -> dict[str, Any] | None:
    """Like get_by_phone_number_id, by the owning user (decrypted secrets: server-side use only)."""
    cur = await conn.execute(_ROUTING_SQL + " WHERE w.user_id = %s", (user_id,))
    row = await cur.fetchone()
    return _decrypted(dict(row)) if row else None


async def get_by_agent_id(conn: AsyncConnection[Any], *, agent_id: int) -> dict[str, Any] | None:
    """Like get_by_phone_number_id, for the number of an agent (for sending)."""
    cur = await conn.execute(_ROUTING_SQL + " WHERE a.id = %s", (agent_id,))
    row = await cur.fetchone()
    return _decrypted(dict(row)) if row else None


async def list_verify_tokens(conn: AsyncConnection[Any]) -> set[str]:
    """Every verify token of an active configuration (for the webhook GET handshake)."""
    cur = await conn.execute(
        "SELECT verify_token FROM whatsapp_configuration WHERE verify_token IS NOT NULL AND is_active"
    )
    return {r["verify_token"] for r in await cur.fetchall()}


async def delete_configuration(conn: AsyncConnection[Any], *, user_id: UUID) -> bool:
    cur = await conn.execute("DELETE FROM whatsapp_configuration WHERE user_id = %s", (user_id,))
    return cur.rowcount > 0


async def clear_attention(conn: AsyncConnection[Any], *, config_id: int) -> bool:
    """Clear "needs attention" after Meta accepted the number's token again; whether it was set."""
    cur = await conn.execute(
        "UPDATE whatsapp_configuration SET needs_attention = NULL, updated_at = now()"
        " WHERE id = %s AND needs_attention IS NOT NULL",
        (config_id,),
    )
    return cur.rowcount > 0
