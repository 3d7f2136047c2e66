"""Password hashing (Argon2id via pwdlib) and the password rule."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from wacrm.errors import AppError
from wacrm.i18n.text import Text

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


T = TypeVar("T")


class WeakPasswordError(AppError, ValueError):
    """A password that does not follow the password rule."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))  # Argon2id, library defaults (t=3, m=64 MiB, p=4)


def check_password_rule(password: str | None, *, email: str | None = None) -> str:
    """Return the password if it is strong enough, else raise WeakPasswordError saying why."""
    if password is None or password == "":
        raise WeakPasswordError(
            Text("the password is empty; choose one of at least {min} characters", min=MIN_LENGTH)
        )
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(
            Text("the password is too short: use at least {min} characters", min=MIN_LENGTH)
        )
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(
            Text("the password is too long: use at most {max} characters", max=MAX_LENGTH)
        )
    if len(set(password)) < 5:
        raise WeakPasswordError(
            Text("the password repeats too few characters: use at least 5 different ones")
        )
    lowered = password.lower()
    if lowered in _COMMON:
        raise WeakPasswordError(Text("the password is too common; choose another"))
    if email and (lowered == email.lower() or lowered == email.split("@")[0].lower()):
        raise WeakPasswordError(Text("the password must not be the email address"))
    return password


# Argon2 is slow by design and takes 64 MiB per call: it runs in these threads (argon2-cffi
# releases the GIL), never on the event loop. The pool bounds both the CPU and the memory it may take.
HASH_THREADS = max(1, min(4, os.cpu_count() or 1))
_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)


def _hash_sync(password: str) -> str:
    return _hasher().hash(password)


def _verify_sync(password: str, password_hash: str) -> tuple[bool, str | None]:
    try:
        return _hasher().verify_and_update(password, password_hash)
    except Exception:  # an unreadable stored hash never matches
        return False, None


def _dummy_verify_sync() -> None:
    _hasher().verify("x" * MIN_LENGTH, _dummy_hash())


async def hash_password(password: str) -> str:
    """The Argon2id hash of a password (computed in the hashing threads)."""
    return await _off_loop(_hash_sync, password)


async def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """(matches, a new hash if the stored one should be upgraded), in the hashing threads."""
    return await _off_loop(_verify_sync, password, password_hash)


async def dummy_verify() -> None:
    """Spend the time of a verification (so unknown accounts are not told apart by timing)."""
    await _off_loop(_dummy_verify_sync)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hash_sync(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password that passes the rule (for the CLI and the first admin)."""
    return secrets.token_urlsafe(15)
