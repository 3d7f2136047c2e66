"""The admin pages are paged and send the same statements whatever the number of agents and users."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.helpers import WEBHOOK_URL
from tests.web.conftest import user_with_password
from tests.web.test_admin_pages import admin_sign_in
from wacrm.accounts import service as accounts
from wacrm.agents.service import AgentSpec, create_agents
from wacrm.numbers import service as numbers
from wacrm.web import admin_parts

PAGES = ("/admin/users", "/admin/agents", "/admin/numbers", "/admin/webhooks")


async def _users(conn: Any, first: int, count: int) -> list[Any]:
    return [
        (
            await accounts.create_user(
                conn, email=f"u{i:03d}@example.com", name=f"U {i}", role="agent"
            )
        )["id"]
        for i in range(first, first + count)
    ]


async def _numbers(conn: Any, users: list[Any], first: int) -> None:
    for i, user_id in enumerate(users, start=first):
        await numbers.configure(
            conn,
            user_id=user_id,
            webhook_url=WEBHOOK_URL,
            whatsapp_number=f"+4915100{i:05d}",
            phone_number_id=f"10{i:05d}",
            verify_token=f"verify-{i}",
        )


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement this process sends (psycopg's async cursor)."""
    sent: list[str] = []
    original = psycopg.AsyncCursor.execute

    async def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", execute)
    return sent


async def _counted(client: Any, statements: list[str]) -> dict[str, int]:
    out = {}
    for path in PAGES:
        statements.clear()
        response = await client.get(path)
        assert response.status_code == 200, path
        out[path] = len(statements)
    return out


async def test_statements_per_page_do_not_grow_with_agents_and_users(client, conn, statements):
    root = await user_with_password(conn, "root@example.com", role="admin", agent=False)
    few = await _users(conn, 0, 3)
    await create_agents(conn, created_by=root["user"]["id"], specs=[AgentSpec(u) for u in few])
    await _numbers(conn, few, 0)
    await admin_sign_in(client)
    before = await _counted(client, statements)
    many = await _users(conn, 3, 57)
    await create_agents(
        conn, created_by=root["user"]["id"], specs=[AgentSpec(u) for u in many[:40]]
    )
    await _numbers(conn, many, 3)
    after = await _counted(client, statements)
    assert after == before
    assert all(n <= 12 for n in after.values()), after
    agents_page = await client.get("/admin/agents")
    # no statement reads an agent's own tables: the counts come from shared tables
    assert not [s for s in statements if "_customers" in s or "_messages" in s]
    assert agents_page.text.count("data-agent-id=") == 43


async def test_users_and_numbers_are_paged(client, conn):
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    users = await _users(conn, 0, 60)
    await _numbers(conn, users[:25], 0)
    await admin_sign_in(client)
    first = await client.get("/admin/users")
    assert "1–50 of 61 users" in first.text and first.text.count("data-user=") == 50
    assert 'href="/admin/users?page=2" rel="next"' in first.text
    second = await client.get("/admin/users", params={"page": 2})
    assert second.text.count("data-user=") == 11 and 'rel="next"' not in second.text
    page = await client.get("/admin/numbers")
    size = admin_parts.NUMBERS_PAGE
    assert page.text.count("data-config-id=") == size and f"1–{size} of 25" in page.text
    last = await client.get("/admin/numbers", params={"page": 2})
    assert last.text.count("data-config-id=") == 25 - size
    menu = page.text.split('name="user_id" required>')[1].split("</select>")[0]
    assert menu.count("<option") == 61 - 25  # the users without a number (and root)


async def test_choices_are_bounded_and_say_so(client, conn, monkeypatch):
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    await _users(conn, 0, 12)
    monkeypatch.setattr(admin_parts, "CHOICES", 5)
    await admin_sign_in(client)
    page = await client.get("/admin/agents")
    menu = page.text.split('id="new-agent-user"')[1].split("</select>")[0]
    assert menu.count("<option") == 1 + 5 and 'id="free-users-more"' in page.text
    assert "5 of 13 users without an agent" in page.text
    page = await client.get("/admin/numbers")
    assert "5 of 13 users without a number" in page.text


async def test_the_webhook_journal_is_paged(client, conn):
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    await conn.execute(
        """INSERT INTO webhook_journal (body, status, error)
           SELECT '{}'::bytea, 'failed', 'boom ' || n FROM generate_series(1, 60) n"""
    )
    await admin_sign_in(client)
    page = await client.get("/admin/webhooks")
    assert page.text.count("data-journal-id=") == admin_parts.JOURNAL_PAGE
    older = page.text.split('id="journal-pager"><a href="')[1].split('"')[0]
    rest = await client.get(older.replace("&amp;", "&"))
    assert rest.status_code == 200 and rest.text.count("data-journal-id=") == 10
    assert 'id="journal-pager"' not in rest.text
