"""`wacrm agent member add|remove|list`: who works a workspace's inbox."""

from __future__ import annotations

from typing import Any

import typer

from wacrm.cli.common import console, emit, fail, run_with_connection

member_app = typer.Typer(
    help="Members of an agent's workspace (its team inbox).", no_args_is_help=True
)
AGENT = typer.Option(..., "--agent", help="The agent (workspace) id.", min=1)
JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def _run(fn: Any) -> Any:
    from wacrm.members.service import MemberError

    try:
        return run_with_connection(fn)
    except MemberError as exc:
        fail(str(exc))


def _plain(member: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": str(member["user_id"]),
        "email": member["email"],
        "name": member["name"],
        "role": member["role"],
        "available": member["available"],
    }


@member_app.command("add")
def member_add(
    email: str = typer.Argument(..., help="Email of the user to add."),
    agent: int = AGENT,
    as_json: bool = JSON,
) -> None:
    """Add a user to the workspace as a member."""
    from wacrm.members import service

    async def go(conn: Any) -> dict[str, Any]:
        return await service.add_member(conn, agent_id=agent, email=email)

    member = _plain(_run(go))
    emit(member, as_json, f"added {member['email']} to agent {agent} as a member")


@member_app.command("remove")
def member_remove(
    email: str = typer.Argument(..., help="Email of the member to remove."),
    agent: int = AGENT,
    as_json: bool = JSON,
) -> None:
    """Remove a member; their conversations become unassigned."""
    from wacrm.members import service

    async def go(conn: Any) -> None:
        cur = await conn.execute("SELECT id FROM users WHERE lower(email) = lower(%s)", (email,))
        row = await cur.fetchone()
        if row is None:
            raise service.MemberError(f"no user with email {email}", status=404)
        await service.remove_member(conn, agent_id=agent, user_id=row["id"])

    _run(go)
    emit({"removed": email, "agent_id": agent}, as_json, f"removed {email} from agent {agent}")


@member_app.command("list")
def member_list(agent: int = AGENT, as_json: bool = JSON) -> None:
    """The owner and the members of the workspace."""
    from wacrm.members import service

    async def go(conn: Any) -> list[dict[str, Any]]:
        if await service.agent(conn, agent_id=agent) is None:
            raise service.MemberError(f"no agent with id {agent}", status=404)
        return await service.list_members(conn, agent_id=agent)

    found = [_plain(m) for m in _run(go)]
    if as_json:
        emit({"agent_id": agent, "members": found}, True, "")
        return
    for m in found:
        mark = "" if m["available"] else " (unavailable)"
        console.print(f"{m['role']:6}  {m['email']}  {m['name']}{mark}")
    if not found:
        console.print("no members")
