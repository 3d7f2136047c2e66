"""Injection: hostile prefixes and agent ids through every entry point never reach SQL; CSV formulas escaped."""

from __future__ import annotations

import csv
import io
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conversations.factory import add_customer
from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.orders import service as orders

HOSTILE = [
    'agt_1"; DROP TABLE users; --',
    "agt_1; DROP TABLE users",
    "AGT_1",
    "agt_1 ",
    "agt_",
    "agt_" + "a" * 33,
    "agt_1\x00",
    "agt_１",  # a full-width digit
    "public.users",
    "pg_catalog",
    "agt_1_customers",
]
MARK = "DROP TABLE users"


class SqlSpy:
    """Records the text and parameters of every statement psycopg sends (all cursors, all connections)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for cls in (psycopg.AsyncCursor, psycopg.Cursor):
            original = cls.execute

            def spy(
                cur: Any, query: Any, params: Any = None, *a: Any, __o: Any = original, **k: Any
            ) -> Any:
                text = query.as_string(None) if hasattr(query, "as_string") else str(query)
                self.seen.append(f"{text} {params!r}")
                return __o(cur, query, params, *a, **k)

            monkeypatch.setattr(cls, "execute", spy)

    def reached(self, needle: str) -> bool:
        return any(needle in s for s in self.seen)


async def _tables(conn: Any) -> set[str]:
    cur = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in await cur.fetchall()}


async def test_hostile_prefixes_through_the_admin_api(client, conn, monkeypatch) -> None:
    admin = await make_admin(conn)
    ann = await make_agent_user(conn, "ann@example.com")
    before = await _tables(conn)
    spy = SqlSpy()
    spy.install(monkeypatch)
    for prefix in HOSTILE:
        r = await client.post(
            "/api/v1/agents",
            json={"user_id": str(admin["user_id"]), "prefix": prefix},
            headers=bearer(admin["token"]),
        )
        assert r.status_code in (400, 422), (prefix, r.status_code, r.text)
        r = await client.request(
            "DELETE",
            f"/api/v1/agents/{ann['agent']['id']}",
            json={"confirm": prefix},
            headers=bearer(admin["token"]),
        )
        assert r.status_code in (400, 409, 422), (prefix, r.status_code, r.text)
        assert not any(prefix in s and "CREATE" in s for s in spy.seen)
    assert not spy.reached(MARK)
    assert await _tables(conn) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations?agent_id={v}",
        "/api/v1/orders?agent_id={v}",
        "/api/v1/customers/{v}",
        "/api/v1/orders/{v}",
        "/api/v1/media/{v}",
        "/api/v1/agents/{v}",
        "/api/v1/whatsapp/configurations/{v}",
        "/api/v1/admin/webhooks?before_id={v}",
        "/api/v1/conversations/{v}/messages",
        "/api/v1/orders/export.csv?agent_id={v}",
    ],
)
async def test_hostile_ids_in_paths_and_queries(client, conn, monkeypatch, path: str) -> None:
    admin = await make_admin(conn)
    ann = await make_agent_user(conn, "ann@example.com")
    spy = SqlSpy()
    spy.install(monkeypatch)
    for value in (
        "1; DROP TABLE users",
        'agt_1"',
        "1 OR 1=1",
        "1e3",
        "-1",
        "0x10",
        "%00",
        "1" + "0" * 22,
    ):
        for token in (admin["token"], ann["token"]):
            r = await client.get(path.format(v=value), headers=bearer(token))
            assert r.status_code in (400, 403, 404, 422), (path, value, r.status_code)
    assert not spy.reached(MARK) and not spy.reached('agt_1"')
    assert "users" in await _tables(conn)


async def test_hostile_workspace_cookie(client, conn) -> None:
    """The admin's workspace cookie names an agent id: garbage in it is ignored, never a 500."""
    from tests.web.conftest import PASSWORD, post_login, user_with_password

    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    login = await post_login(client, {"email": "root@example.com", "password": PASSWORD})
    assert login.status_code == 303
    for value in ("1; DROP TABLE users", 'agt_1"', "-1", "9" * 40):
        client.cookies.set("wacrm_workspace", value)
        r = await client.get("/inbox")
        assert r.status_code < 500, (value, r.status_code)
    assert "users" in await _tables(conn)


def test_hostile_prefixes_through_the_cli(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from wacrm.cli.main import app as cli
    from wacrm.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    runner = CliRunner()
    r = runner.invoke(
        cli, ["user", "create", "--email", "z@example.com", "--name", "Z", "--role", "agent"]
    )
    assert r.exit_code == 0, r.output
    spy = SqlSpy()
    spy.install(monkeypatch)
    with psycopg.connect(db_url) as conn:
        before = {
            t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    for prefix in HOSTILE:
        r = runner.invoke(cli, ["agent", "create", "--user", "z@example.com", "--prefix", prefix])
        assert r.exit_code != 0 and "invalid agent prefix" in r.output, (prefix, r.output)
    get_settings.cache_clear()
    assert not spy.reached(MARK)
    assert not any("agt_1\x00" in s or "public.users" in s for s in spy.seen)
    with psycopg.connect(db_url) as conn:
        after = {
            t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 0
    assert after == before


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


async def test_csv_exports_escape_formulas_in_every_text_column(client, conn) -> None:
    """Customer names, notes, addresses and item names from hostile customers: no cell starts a formula."""
    ann = await make_agent_user(conn, "ann@example.com")
    t = ann["tables"]
    for i, evil in enumerate(FORMULAS):
        cid = await add_customer(conn, t, evil, phone=f"+4915100000{i:03d}")
        await orders.create_order(
            conn,
            tables=t,
            customer_id=cid,
            notes=evil,
            shipping_address=evil,
            items=[{"name": evil, "quantity": 1, "price": "1.00"}],
        )
    for url in ("/api/v1/orders/export.csv", "/api/v1/customers/export.csv"):
        r = await client.get(url, headers=bearer(ann["token"]))
        assert r.status_code == 200
        rows = list(csv.reader(io.StringIO(r.text)))
        cells = [c for row in rows[1:] for c in row]
        for evil in FORMULAS:  # a leading tab or CR gets its ' before it (and the cell quotes)
            assert "'" + evil in cells or "'" + evil[0] + "'" + evil[1:] in cells, (url, evil)
        for cell in cells:
            assert not cell.startswith(("=", "@", "\t", "\r")), (url, cell)
            if cell.startswith(("+", "-")):  # numbers (+49 phones are E.164) may; text may not
                assert cell.lstrip("+-").replace(".", "").isdigit(), (url, cell)
