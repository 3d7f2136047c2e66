"""`wacrm serve --forwarded-allow-ips`: X-Forwarded-For is believed only from the named proxies
(the address a sign-in is recorded and throttled under)."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from tests.reliability.harness import Cluster

pytestmark = pytest.mark.slow
LOGIN = {"email": "boss@example.com", "password": "a-long-enough-passphrase-1"}


def last_session_ip(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT ip FROM user_sessions ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(
    ("trusted", "recorded"),
    [(None, "203.0.113.7"), ("10.0.0.2", "127.0.0.1")],
)
def test_forwarded_for_only_from_trusted_proxies(
    trusted: str | None, recorded: str, db_url: str, tmp_path: Path
) -> None:
    cluster = Cluster(tmp_path, db_url)
    web = cluster.serve("web")
    if trusted:
        web.args += ["--forwarded-allow-ips", trusted]
    try:
        web.start()
        answer = httpx.post(
            web.url + "/api/v1/auth/login",
            json=LOGIN,
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert last_session_ip(db_url) == recorded
    finally:
        cluster.close()
