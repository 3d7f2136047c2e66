"""`wacrm check`: each finding, and its exit code, on a real database and the sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from tests.helpers import WEBHOOK_URL
from tests.sandbox_fixture import Sandbox
from wacrm.cli.main import app as cli
from wacrm.config import get_settings

KEY = "doctor-test-key-0123456789-abcdefghijklmnop"


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("DATABASE_DIRECT_URL", "DATABASE_READ_URL", "WACRM_DB_POOLER", "WACRM_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WACRM_SECRET_KEY", KEY)
    monkeypatch.setenv("WACRM_PUBLIC_URL", "https://9.9.9.9")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def check(*args: str) -> tuple[int, dict[str, Any]]:
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["check", "--json", *args])
    lines = result.stdout.strip().splitlines()
    assert lines, (result.exit_code, result.output, result.exception)
    body = json.loads(lines[-1])
    return result.exit_code, {c["key"]: c for c in body["checks"]} | {"_": body["status"]}


def test_a_healthy_server_passes(env):
    code, found = check("--skip-meta")
    assert code == 0, found
    assert found["database"]["status"] == "ok" and "PostgreSQL" in found["database"]["detail"]
    assert found["migrations"]["detail"] == "up to date"
    assert found["public_url"]["status"] == "ok"
    assert found["media"]["status"] == "ok" and "writable" in found["media"]["detail"]
    assert found["secret_key"]["status"] == "ok"


def test_problems_exit_non_zero(env, tmp_path):
    env.setenv("WACRM_PUBLIC_URL", "http://127.0.0.1:8000")
    code, found = check("--skip-meta")
    assert code == 0 and found["public_url"]["status"] == "warning"  # development
    assert check("--skip-meta", "--strict")[0] == 1
    env.setenv("WACRM_ENV", "production")
    code, found = check("--skip-meta")
    assert code == 1 and found["public_url"]["status"] == "problem"
    env.delenv("WACRM_ENV")
    env.setenv("WACRM_PUBLIC_URL", "https://9.9.9.9")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    env.setenv("WACRM_DATA_DIR", str(blocked))
    code, found = check("--skip-meta")
    assert code == 1 and found["media"]["status"] == "problem"
    env.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    env.setenv("WACRM_DB_POOLER", "transaction")
    code, found = check("--skip-meta")
    assert code == 1 and "DATABASE_DIRECT_URL" in found["direct_url"]["fix"]
    env.delenv("WACRM_DB_POOLER")
    env.setenv("WACRM_HOST", "0.0.0.0")
    env.setenv("WACRM_FORWARDED_ALLOW_IPS", "*")
    code, found = check("--skip-meta")
    assert code == 0 and found["proxy"]["status"] == "warning"


def test_unreachable_database_and_pending_migrations(env, empty_db_url):
    env.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, found = check("--skip-meta")
    assert code == 1 and "cannot reach" in found["database"]["detail"]
    assert "migrations" not in found
    env.setenv("DATABASE_URL", empty_db_url)
    code, found = check("--skip-meta")
    assert code == 0 and found["migrations"]["status"] == "warning"
    assert "wacrm migrate" in found["migrations"]["fix"]


def test_each_number_at_meta(env, db_url, sandbox: Sandbox):
    from tests.web.conftest import user_with_password
    from wacrm.numbers import service as numbers

    env.setenv("WHATSAPP_API_BASE_URL", sandbox.base_url)
    number = sandbox.register_number()

    async def configure() -> None:
        async with await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            ann = await user_with_password(conn, "ann@example.com")
            await numbers.configure(
                conn,
                webhook_url=WEBHOOK_URL,
                user_id=ann["user"]["id"],
                whatsapp_number="+" + number["display_phone_number"],
                phone_number_id=number["phone_number_id"],
                business_account_id=number["waba_id"],
                access_token=number["access_token"],
                app_secret=number["app_secret"],
                verify_token="vt-0123456789",
            )

    get_settings.cache_clear()
    asyncio.run(configure())
    pnid = number["phone_number_id"]
    code, found = check()
    assert code == 1, found  # not subscribed: Meta sends this number no webhooks
    assert found[f"token:{pnid}"]["status"] == "ok"
    assert found[f"subscription:{pnid}"]["status"] == "problem"
    assert sandbox.state.subscribed_apps == {}  # the doctor changes nothing at Meta
    sandbox.state.subscribed_apps[number["waba_id"]] = {"1185423096147051": "iDesign CRM"}
    code, found = check()
    assert code == 0 and found[f"subscription:{pnid}"]["status"] == "ok", found
    assert f"token:{pnid}" not in check("--skip-meta")[1]
