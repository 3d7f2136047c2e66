"""Workspace members: the API, the CLI, ?agent_id= choice, and 404 for non-members everywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conversations.factory import add_customer, add_message
from tests.helpers import bearer, make_admin, make_agent_user
from wacrm.accounts.service import create_user
from wacrm.accounts.tokens import create_token


async def _plain_user(conn: Any, email: str) -> dict[str, Any]:
    user = await create_user(conn, email=email, name=email.split("@")[0].title(), role="agent")
    return {"user_id": user["id"], "token": await create_token(conn, user_id=user["id"], name="t")}


@pytest.fixture
async def team(conn):
    owner = await make_agent_user(conn, "owner@example.com")
    other = await make_agent_user(conn, "other@example.com")
    admin = await make_admin(conn)
    mia = await _plain_user(conn, "mia@example.com")
    customer = await add_customer(conn, owner["tables"], "Carla", phone="+4915100000001")
    message = await add_message(conn, owner["tables"], customer, "hello team")
    return {
        "owner": owner,
        "other": other,
        "admin": admin,
        "mia": mia,
        "customer": customer,
        "message": message,
    }


def _members_url(team: dict[str, Any]) -> str:
    return f"/api/v1/agents/{team['owner']['agent']['id']}/members"


async def test_owner_adds_lists_and_removes_members(client, team):
    url = _members_url(team)
    owner = bearer(team["owner"]["token"])
    listed = await client.get(url, headers=owner)
    assert [(m["email"], m["role"]) for m in listed.json()] == [("owner@example.com", "owner")]
    added = await client.post(
        url, json={"email": "MIA@example.com", "role": "member"}, headers=owner
    )
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "member" and added.json()["email"] == "mia@example.com"
    again = await client.post(url, json={"email": "mia@example.com"}, headers=owner)
    assert again.status_code == 409 and "already" in again.json()["detail"]
    # the new member sees the members, but may not change them
    mia = bearer(team["mia"]["token"])
    assert len((await client.get(url, headers=mia)).json()) == 2
    refused = await client.post(url, json={"email": "other@example.com"}, headers=mia)
    assert refused.status_code == 403
    gone = await client.delete(f"{url}/{team['mia']['user_id']}", headers=owner)
    assert gone.status_code == 204
    assert (await client.get(url, headers=mia)).status_code == 404
    assert (
        await client.delete(f"{url}/{team['mia']['user_id']}", headers=owner)
    ).status_code == 404


async def test_bad_member_requests_are_clear_and_change_nothing(client, conn, team):
    url = _members_url(team)
    admin = bearer(team["admin"]["token"])
    cases = [
        ({"email": "nobody@example.com"}, 404, "no user"),
        ({"email": "mia@example.com", "role": "owner"}, 422, "role"),
        ({"email": "owner@example.com"}, 409, "owns this workspace"),
        ({}, 422, "email"),
    ]
    for body, status, words in cases:
        r = await client.post(url, json=body, headers=admin)
        assert r.status_code == status, (body, r.text)
        assert words in r.text
    owner_id = team["owner"]["user_id"]
    r = await client.delete(f"{url}/{owner_id}", headers=admin)
    assert r.status_code == 409 and "owner" in r.json()["detail"]
    r = await client.post(
        "/api/v1/agents/999999/members", json={"email": "mia@example.com"}, headers=admin
    )
    assert r.status_code == 404
    cur = await conn.execute("SELECT count(*) AS n FROM agent_members")
    assert (await cur.fetchone())["n"] == 0
    # another agent's owner does not see this workspace at all
    r = await client.get(url, headers=bearer(team["other"]["token"]))
    assert r.status_code == 404


async def test_agent_id_chooses_among_several_workspaces(client, team):
    admin = bearer(team["admin"]["token"])
    for agent in (team["owner"], team["other"]):
        r = await client.post(
            f"/api/v1/agents/{agent['agent']['id']}/members",
            json={"email": "mia@example.com"},
            headers=admin,
        )
        assert r.status_code == 201
    mia = bearer(team["mia"]["token"])
    r = await client.get("/api/v1/conversations", headers=mia)
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "agent_id" in detail
    assert (
        str(team["owner"]["agent"]["id"]) in detail and str(team["other"]["agent"]["id"]) in detail
    )
    r = await client.get(
        "/api/v1/conversations", params={"agent_id": team["owner"]["agent"]["id"]}, headers=mia
    )
    assert r.status_code == 200 and [c["name"] for c in r.json()["items"]] == ["Carla"]
    # the owner of one workspace who is also a member of another still must choose
    await client.post(
        f"/api/v1/agents/{team['other']['agent']['id']}/members",
        json={"email": "owner@example.com"},
        headers=admin,
    )
    owner = bearer(team["owner"]["token"])
    assert (await client.get("/api/v1/conversations", headers=owner)).status_code == 400


async def test_a_single_membership_is_the_default(client, team):
    admin = bearer(team["admin"]["token"])
    await client.post(_members_url(team), json={"email": "mia@example.com"}, headers=admin)
    r = await client.get("/api/v1/conversations", headers=bearer(team["mia"]["token"]))
    assert r.status_code == 200 and [c["name"] for c in r.json()["items"]] == ["Carla"]


async def test_non_members_get_404_on_every_surface(client, conn, team):
    """Mia (no workspace) and Otto (another workspace) ask for the owner's workspace by id."""
    agent_id = team["owner"]["agent"]["id"]
    customer, message = team["customer"], team["message"]
    urls = [
        "/api/v1/conversations",
        f"/api/v1/conversations/{customer}",
        f"/api/v1/conversations/{customer}/messages",
        f"/api/v1/customers/{customer}",
        "/api/v1/orders",
        "/api/v1/orders/export.csv",
        "/api/v1/customers/export.csv",
        f"/api/v1/media/{message}",
        "/api/v1/events",
        f"/api/v1/agents/{agent_id}/members",
    ]
    for who in ("mia", "other"):
        headers = bearer(team[who]["token"])
        for url in urls:
            r = await client.get(url, params={"agent_id": agent_id}, headers=headers)
            assert r.status_code == 404, (who, url, r.status_code, r.text[:200])
        r = await client.post(
            f"/api/v1/conversations/{customer}/read", params={"agent_id": agent_id}, headers=headers
        )
        assert r.status_code == 404
    # once a member, the same requests are answered (the media has no file: 404 of its own kind)
    await client.post(
        f"/api/v1/agents/{agent_id}/members",
        json={"email": "mia@example.com"},
        headers=bearer(team["admin"]["token"]),
    )
    r = await client.get(
        f"/api/v1/conversations/{customer}/messages",
        params={"agent_id": agent_id},
        headers=bearer(team["mia"]["token"]),
    )
    assert r.status_code == 200 and r.json()["items"][0]["text"] == "hello team"


async def test_removing_a_member_unassigns_their_conversations(client, conn, team):
    tables = team["owner"]["tables"]
    admin = bearer(team["admin"]["token"])
    await client.post(_members_url(team), json={"email": "mia@example.com"}, headers=admin)
    await conn.execute(
        tables.query("UPDATE {customers} SET assignee_id = %s WHERE id = %s"),
        (team["mia"]["user_id"], team["customer"]),
    )
    r = await client.delete(f"{_members_url(team)}/{team['mia']['user_id']}", headers=admin)
    assert r.status_code == 204
    cur = await conn.execute(tables.query("SELECT assignee_id FROM {customers}"))
    assert (await cur.fetchone())["assignee_id"] is None


@pytest.fixture
def cli_env(db_url, monkeypatch, tmp_path):
    from wacrm.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WACRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WACRM_SECRET_KEY", "cli-test-key-0123456789-abcdefghijklmnop")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_member_add_list_remove(cli_env, sync_conn):
    from typer.testing import CliRunner

    from wacrm.cli.main import app as cli

    for email, role in (
        ("root@example.com", "admin"),
        ("owner@example.com", "agent"),
        ("mia@example.com", "agent"),
    ):
        sync_conn.execute(
            "INSERT INTO users (name, email, role) VALUES ('x', %s, %s)", (email, role)
        )
    runner = CliRunner()
    made = runner.invoke(cli, ["agent", "create", "--user", "owner@example.com", "--json"])
    agent = str(json.loads(made.stdout.strip().splitlines()[-1])["id"])
    added = runner.invoke(
        cli, ["agent", "member", "add", "mia@example.com", "--agent", agent, "--json"]
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout.strip().splitlines()[-1])["role"] == "member"
    listed = runner.invoke(cli, ["agent", "member", "list", "--agent", agent, "--json"])
    data = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [m["email"] for m in data["members"]] == ["owner@example.com", "mia@example.com"]
    again = runner.invoke(cli, ["agent", "member", "add", "mia@example.com", "--agent", agent])
    assert again.exit_code != 0 and "already" in again.output
    removed = runner.invoke(cli, ["agent", "member", "remove", "mia@example.com", "--agent", agent])
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(cli, ["agent", "member", "list", "--agent", agent])
    assert "mia@example.com" not in listed.output and "owner@example.com" in listed.output
    missing = runner.invoke(cli, ["agent", "member", "list", "--agent", "999999"])
    assert missing.exit_code != 0 and "no agent" in missing.output
