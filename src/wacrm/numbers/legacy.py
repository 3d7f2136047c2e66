"""Encrypt secrets that a database adopted from the seed still holds in plain text."""

from __future__ import annotations

import base64
import binascii

import psycopg

from wacrm.security.crypto import encrypt_secret

_FERNET_VERSION = 0x80
_FERNET_MIN_BYTES = 1 + 8 + 16 + 16 + 32  # version, timestamp, IV, one cipher block, HMAC


def looks_encrypted(value: str) -> bool:
    """True for a Fernet token (whatever key made it); a Meta token such as 'EAAG…' is not one."""
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    return len(raw) >= _FERNET_MIN_BYTES and raw[0] == _FERNET_VERSION


def encrypt_plaintext_secrets(url: str) -> int:
    """Encrypt every plain-text `api_key` / `app_secret` in whatsapp_configuration; how many."""
    changed = 0
    with psycopg.connect(url) as conn, conn.transaction():
        rows = conn.execute(
            "SELECT id, api_key, app_secret FROM whatsapp_configuration "
            "WHERE api_key IS NOT NULL OR app_secret IS NOT NULL FOR UPDATE"
        ).fetchall()
        for config_id, api_key, app_secret in rows:
            updates = {}
            if api_key and not looks_encrypted(api_key):
                updates["api_key"] = encrypt_secret(api_key)
            if app_secret and not looks_encrypted(app_secret):
                updates["app_secret"] = encrypt_secret(app_secret)
            if updates:
                conn.execute(
                    "UPDATE whatsapp_configuration SET api_key = coalesce(%(api_key)s, api_key), "
                    "app_secret = coalesce(%(app_secret)s, app_secret), updated_at = now() "
                    "WHERE id = %(id)s",
                    {
                        "api_key": updates.get("api_key"),
                        "app_secret": updates.get("app_secret"),
                        "id": config_id,
                    },
                )
                changed += 1
    return changed
