"""Cheap Argon2id parameters for tests (the production defaults cost ~0.5 s per hash here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from wacrm.accounts import passwords


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fast = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", lambda: fast)
    passwords._dummy_hash.cache_clear()
    yield
    # the dummy hash made with the cheap parameters must not outlive this test: a later test in
    # this process would verify unknown accounts at the cheap cost
    passwords._dummy_hash.cache_clear()
