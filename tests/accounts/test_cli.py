"""CLI: user/token/agent/whatsapp create with --json, secrets rotate, the first-admin bootstrap."""

from __future__ import annotations

import json
import stat

import psycopg
import pytest
from typer.testing import CliRunner

from wacrm.cli.main import app as cli
from wacrm.config import get_settings


@pytest.fixture
def env(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WACRM_SECRET_KEY", "cli-test-key-0123456789-abcdefghijklmnop")
    monkeypatch.delenv("WACRM_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("WACRM_ADMIN_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str, input: str | None = None) -> dict:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == 0, (
        result.stdout,
        result.stderr if hasattr(result, "stderr") else "",
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_create_commands_print_json(env, db_url):
    user = run(
        "user", "create", "--email", "ann@example.com", "--name", "Ann", "--role", "agent", "--json"
    )
    assert user["email"] == "ann@example.com" and len(user["password"]) >= 10
    admin = run(
        "user",
        "create",
        "--email",
        "boss@example.com",
        "--name",
        "Boss",
        "--role",
        "admin",
        "--password-stdin",
        "--json",
        input="the boss passphrase\n",
    )
    assert "password" not in admin
    agent = run("agent", "create", "--user", "ann@example.com", "--prefix", "agt_3784", "--json")
    assert agent["agent_prefix"] == "agt_3784"
    number = run(
        "whatsapp",
        "configure",
        "--user",
        "ann@example.com",
        "--whatsapp-number",
        "+1555",
        "--phone-number-id",
        "123",
        "--business-account-id",
        "9",
        "--access-token",
        "EAAB-cli-secret-token-abcd",
        "--app-secret",
        "cli-app-secret-wxyz",
        "--verify-token",
        "verify-123456",
        "--json",
    )
    assert number["access_token_hint"] == "…abcd" and "EAAB-cli" not in json.dumps(number)
    token = run("token", "create", "--user", "ann@example.com", "--json")
    assert token["token"].startswith("wacrm_")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 1


def test_bad_input_fails_cleanly(env, db_url):
    r = CliRunner().invoke(
        cli, ["user", "create", "--email", "nope", "--name", "X", "--role", "agent"]
    )
    assert r.exit_code == 1 and "not valid" in r.output
    r = CliRunner().invoke(
        cli, ["user", "create", "--email", "x@example.com", "--name", "X", "--role", "owner"]
    )
    assert r.exit_code == 1 and "unknown role" in r.output
    r = CliRunner().invoke(cli, ["token", "create", "--user", "ghost@example.com"])
    assert r.exit_code == 1 and "no user" in r.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_secrets_rotate(env, db_url, monkeypatch):
    run(
        "user", "create", "--email", "ann@example.com", "--name", "Ann", "--role", "agent", "--json"
    )
    run(
        "whatsapp",
        "configure",
        "--user",
        "ann@example.com",
        "--whatsapp-number",
        "+1555",
        "--phone-number-id",
        "123",
        "--access-token",
        "EAAB-rotate-me-1234",
        "--json",
    )
    monkeypatch.setenv("WACRM_SECRET_KEY", "a-brand-new-key-0123456789-abcdefghijkl")
    get_settings.cache_clear()
    result = run(
        "secrets", "rotate", "--old-key", "cli-test-key-0123456789-abcdefghijklmnop", "--json"
    )
    assert result == {"reencrypted": 1}
    assert run(
        "secrets", "rotate", "--old-key", "cli-test-key-0123456789-abcdefghijklmnop", "--json"
    ) == {"reencrypted": 0}

    import asyncio

    from psycopg.rows import dict_row

    from wacrm.numbers.service import get_by_phone_number_id

    async def read():
        async with await psycopg.AsyncConnection.connect(db_url, row_factory=dict_row) as c:
            return await get_by_phone_number_id(c, "123")

    assert asyncio.run(read())["access_token"] == "EAAB-rotate-me-1234"


def test_bootstrap_creates_first_admin_once(env, db_url):
    from wacrm.accounts.bootstrap import bootstrap_admin

    bootstrap_admin(db_url, get_settings())
    path = env / "data" / "initial-admin.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "admin@localhost" in text
    bootstrap_admin(db_url, get_settings())
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM user_credentials").fetchone()[0] == 1
