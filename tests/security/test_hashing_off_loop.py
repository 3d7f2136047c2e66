"""Argon2 hashing and verifying run in their own threads, never on the event loop (issue 13 item 2)."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import Any

import httpx
from typer.testing import CliRunner

from tests.helpers import bearer, make_admin
from tests.web.conftest import PASSWORD, post_login, sign_in, user_with_password
from wacrm.accounts import passwords


class SpyHasher:
    """Wraps the real hasher and records the thread of every hash and verify."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, str]] = []

    def _record(self, what: str) -> None:
        self.calls.append((what, threading.current_thread().name))

    def hash(self, password: str) -> str:
        self._record("hash")
        return self.real.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        self._record("verify")
        return self.real.verify(password, password_hash)

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self._record("verify")
        return self.real.verify_and_update(password, password_hash)


def spy(monkeypatch: Any) -> SpyHasher:
    hasher = SpyHasher(passwords._hasher())
    passwords._dummy_hash()  # computed once, before the spy
    monkeypatch.setattr(passwords, "_hasher", lambda: hasher)
    return hasher


async def test_every_hash_and_verify_of_the_web_and_api_runs_off_the_loop(
    app, client, conn, monkeypatch
) -> None:
    """Sign-in (form and JSON, known and unknown account), password change (page and API),
    user creation and admin reset through the API."""
    admin = await make_admin(conn, "boss@example.com")
    await user_with_password(conn, "ann@example.com")
    hasher = spy(monkeypatch)
    loop_thread = threading.current_thread().name

    await post_login(client, {"email": "nobody@example.com", "password": "x" * 12})
    await post_login(client, {"email": "ann@example.com", "password": "wrong" * 3})
    await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12}
    )
    csrf = await sign_in(client, "ann@example.com")
    changed = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "a new long passphrase",
            "confirm_password": "a new long passphrase",
        },
    )
    assert changed.status_code == 200, changed.text
    api = await client.post(
        "/api/v1/auth/password",
        headers={"X-CSRF-Token": csrf},
        json={"current_password": "a new long passphrase", "new_password": PASSWORD + " again"},
    )
    assert api.status_code == 204, api.text
    created = await client.post(
        "/api/v1/users",
        headers=bearer(admin["token"]),
        json={"email": "bob@example.com", "name": "Bob", "role": "agent", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    reset = await client.post(
        f"/api/v1/users/{created.json()['id']}/password",
        headers=bearer(admin["token"]),
        json={"new_password": "reset by the admin 42"},
    )
    assert reset.status_code == 204, reset.text

    kinds = [what for what, _ in hasher.calls]
    assert kinds.count("hash") >= 4 and kinds.count("verify") >= 6, hasher.calls
    on_loop = [call for call in hasher.calls if call[1] == loop_thread]
    assert on_loop == [], f"Argon2 ran on the event loop: {on_loop}"
    assert all(name.startswith("argon2") for _, name in hasher.calls), hasher.calls


def test_cli_user_create_hashes_off_the_calling_thread(db_url, monkeypatch, tmp_path) -> None:
    from wacrm.cli.main import app as cli
    from wacrm.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    hasher = spy(monkeypatch)
    try:
        result = CliRunner().invoke(
            cli,
            ["user", "create", "--email", "c@example.com", "--name", "C", "--role", "agent"],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert [what for what, _ in hasher.calls] == ["hash"]
    assert hasher.calls[0][1].startswith("argon2")


async def _healthz_latencies(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set() or not latencies:
        start = time.perf_counter()
        assert (await client.get("/healthz")).status_code == 200
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.01)
    return latencies


async def users_sharing_one_hash(conn: Any, count: int) -> list[str]:
    """`count` users with PASSWORD under the real Argon2 parameters (hashed once, stored for all)."""
    from wacrm.accounts.service import create_user

    password_hash = await passwords.hash_password(PASSWORD)
    emails = []
    for i in range(count):
        user = await create_user(conn, email=f"user{i}@example.com", name=f"User {i}", role="agent")
        await conn.execute(
            "INSERT INTO user_credentials (user_id, password_hash) VALUES (%s, %s)",
            (user["id"], password_hash),
        )
        emails.append(user["email"])
    return emails


async def test_healthz_stays_fast_during_concurrent_wrong_sign_ins(app, client, conn) -> None:
    """30 concurrent wrong sign-ins (known and unknown accounts, form and JSON, each from its own
    address so throttling does not cut them short) with the real Argon2 parameters: /healthz
    answers meanwhile in a fraction of one verification's time."""
    passwords._dummy_hash.cache_clear()  # made with the real parameters, like in production
    known = await users_sharing_one_hash(conn, 15)
    await passwords.dummy_verify()  # the dummy hash is made once: not part of the measurement
    start = time.perf_counter()
    await passwords.dummy_verify()
    one_verify = time.perf_counter() - start

    async def wrong_sign_in(i: int) -> int:
        email = known[i // 2] if i % 2 else f"nobody{i}@example.com"
        transport = httpx.ASGITransport(app=app, client=(f"198.51.100.{i + 1}", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            if i % 3:
                response = await post_login(http, {"email": email, "password": "w" * 12})
            else:
                response = await http.post(
                    "/api/v1/auth/login", json={"email": email, "password": "w" * 12}
                )
        return response.status_code

    stop = asyncio.Event()
    probe = asyncio.create_task(_healthz_latencies(client, stop))
    storm_start = time.perf_counter()
    statuses = await asyncio.gather(*(wrong_sign_in(i) for i in range(30)))
    storm = time.perf_counter() - storm_start
    stop.set()
    latencies = await probe
    assert statuses == [401] * 30, statuses
    assert storm > 3 * one_verify, (storm, one_verify)  # the sign-ins did cost their Argon2 time
    assert len(latencies) >= 5, latencies
    assert statistics.median(latencies) < one_verify / 2, (latencies, one_verify)
