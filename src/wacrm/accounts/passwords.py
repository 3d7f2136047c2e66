"""Password hashing (Argon2id via pwdlib) and the password rule."""

from __future__ import annotations

import secrets
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 10
MAX_LENGTH = 256
_COMMON = {
    "password",
    "password1",
    "password123",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "123456789a",
    "iloveyou123",
    "administrator",
    "letmein123",
    "welcome123",
    "changeme123",
    "qwerty1234",
    "passw0rd123",
    "abcdefghij",
    "0123456789",
}


class WeakPasswordError(ValueError):
    """A password that does not follow the password rule."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))  # Argon2id, library defaults (t=3, m=64 MiB, p=4)


def check_password_rule(password: str | None, *, email: str | None = None) -> str:
    """Return the password if it is strong enough, else raise WeakPasswordError saying why."""
    if password is None or password == "":
        raise WeakPasswordError("the password is empty; choose one of at least 10 characters")
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"the password is too short: use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"the password is too long: use at most {MAX_LENGTH} characters")
    if len(set(password)) < 5:
        raise WeakPasswordError(
            "the password repeats too few characters: use at least 5 different ones"
        )
    lowered = password.lower()
    if lowered in _COMMON:
        raise WeakPasswordError("the password is too common; choose another")
    if email and (lowered == email.lower() or lowered == email.split("@")[0].lower()):
        raise WeakPasswordError("the password must not be the email address")
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """(matches, a new hash if the stored one should be upgraded)."""
    try:
        return _hasher().verify_and_update(password, password_hash)
    except Exception:  # an unreadable stored hash never matches
        return False, None


def dummy_verify() -> None:
    """Spend the time of a verification (so unknown accounts are not told apart by timing)."""
    _hasher().verify("x" * MIN_LENGTH, _dummy_hash())


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password that passes the rule (for the CLI and the first admin)."""
    return secrets.token_urlsafe(15)
