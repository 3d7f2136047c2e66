"""Encrypting stored secrets (WhatsApp access tokens, app secrets) with a key derived from WACRM_SECRET_KEY."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_HKDF_INFO = b"wacrm secrets at rest v1"
_HKDF_SALT = b"wacrm-fernet"


class SecretDecryptionError(ValueError):
    """A stored secret cannot be decrypted with the current key (was WACRM_SECRET_KEY changed?)."""


@lru_cache(maxsize=8)
def fernet_for(secret_key: str) -> Fernet:
    """The Fernet of one secret key (HKDF-SHA256 derived, cached)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


_key_source: Callable[[], str] | None = None


def use_key(source: Callable[[], str]) -> None:
    """Where the current key comes from (`settings.effective_secret_key`, read when needed): set
    by the entry points (create_app, the worker, the CLI) from their settings."""
    global _key_source
    _key_source = source


def _current() -> Fernet:
    if _key_source is None:
        raise RuntimeError(
            "no secret key: the entry point calls crypto.use_key(settings.effective_secret_key)"
        )
    return fernet_for(_key_source())


def encrypt_secret(plain: str, *, secret_key: str | None = None) -> str:
    """Encrypt `plain` (a text token safe to store) with the current key or `secret_key`."""
    f = fernet_for(secret_key) if secret_key is not None else _current()
    return f.encrypt(plain.encode()).decode("ascii")


def decrypt_secret(token: str, *, secret_key: str | None = None) -> str:
    """Decrypt a value made by encrypt_secret; SecretDecryptionError if the key does not fit."""
    f = fernet_for(secret_key) if secret_key is not None else _current()
    try:
        return f.decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted with the current WACRM_SECRET_KEY; "
            "if the key was changed, run `wacrm secrets rotate --old-key OLD`"
        ) from exc


def mask(plain: str | None) -> str | None:
    """A hint safe to show: '…' and the last 4 characters (nothing of secrets shorter than 8)."""
    if plain is None:
        return None
    if len(plain) < 8:
        return "…"
    return "…" + plain[-4:]
