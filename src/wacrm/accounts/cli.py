"""`wacrm user`, `wacrm token`, `wacrm agent`, `wacrm whatsapp`, `wacrm secrets` commands."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from wacrm.cli.common import (
    cli_settings,
    console,
    database_url,
    emit,
    fail,
    open_connection,
    run_with_connection,
)

user_app = typer.Typer(help="Users (admins and agents).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
agent_app = typer.Typer(help="Agents and their tables.", no_args_is_help=True)
whatsapp_app = typer.Typer(
    help="WhatsApp numbers (one configuration per user).", no_args_is_help=True
)
secrets_app = typer.Typer(help="Secrets at rest.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print the result as one JSON object.")


def _run(fn: Any) -> Any:
    """Run fn(conn); service errors become a clean exit with the message."""
    try:
        return run_with_connection(fn)
    except ValueError as exc:
        fail(str(exc))


async def _user_id(conn: Any, email: str) -> Any:
    from wacrm.accounts.service import get_user_by_email

    return (await get_user_by_email(conn, email=email))["id"]


@user_app.command("create")
def user_create(
    email: str = typer.Option(..., "--email"),
    name: str = typer.Option(..., "--name"),
    role: str = typer.Option(..., "--role", help="admin or agent"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
    as_json: bool = JSON,
) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""
    from wacrm.accounts.passwords import generate_password
    from wacrm.accounts.service import create_user

    generated = not password_stdin
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")

    async def go(conn: Any) -> dict[str, Any]:
        return await create_user(conn, email=email, name=name, role=role, password=password)

    user = _run(go)
    data = {
        "id": str(user["id"]),
        "email": user["email"],
        "name": user["name"],
        "role": user["role"],
    }
    if generated:
        data["password"] = password
    emit(
        data,
        as_json,
        f"created {user['role']} {user['email']}"
        + (f" with password {password}" if generated else ""),
    )


@token_app.command("create")
def token_create(
    user: str = typer.Option(..., "--user", help="The user's email."),
    name: str = typer.Option("cli", "--name"),
    as_json: bool = JSON,
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from wacrm.accounts.tokens import create_token

    async def go(conn: Any) -> str:
        return await create_token(conn, user_id=await _user_id(conn, user), name=name)

    token = _run(go)
    if as_json:
        emit({"token": token, "user": user, "name": name}, True, "")
    else:
        sys.stdout.write(token + "\n")


@agent_app.command("create")
def agent_create(
    user: str = typer.Option(None, "--user", help="Email of the user to link."),
    prefix: str = typer.Option(
        None, "--prefix", help="Table prefix, e.g. agt_3784 (default agt_<id>)."
    ),
    as_json: bool = JSON,
) -> None:
    """Create an agent and provision its tables (or adopt existing tables with --prefix)."""
    from wacrm.agents.service import create_agent

    async def go(conn: Any) -> dict[str, Any]:
        user_id = await _user_id(conn, user) if user else None
        cur = await conn.execute(
            "SELECT id FROM users WHERE role = 'admin' ORDER BY created_at LIMIT 1"
        )
        admin = await cur.fetchone()
        creator = admin["id"] if admin else user_id
        if creator is None:
            raise ValueError("create an admin or give --user first")
        return await create_agent(
            conn,
            created_by=creator,
            user_id=user_id,
            prefix=prefix,
            fallback_currency=cli_settings().default_currency,
        )

    agent = _run(go)
    data = {
        "id": agent["id"],
        "agent_prefix": agent["agent_prefix"],
        "user_id": str(agent["user_id"]) if agent["user_id"] else None,
    }
    emit(data, as_json, f"created agent {agent['id']} with tables {agent['agent_prefix']}_*")


@agent_app.command("import")
def agent_import(
    file: typer.FileText = typer.Argument(
        None,
        help="CSV with a header and any of the columns user (email), prefix, currency; - for stdin.",
    ),
    count: int = typer.Option(
        None,
        "--count",
        min=1,
        help="Instead of a file: this many agents, no user, prefix agt_<id>.",
    ),
    batch_size: int = typer.Option(
        None,
        "--batch-size",
        min=1,
        help="Agents per transaction (default: sized by the locks held).",
    ),
    sessions: int = typer.Option(
        3,
        "--sessions",
        min=1,
        help="Database sessions making agents at once (their commits stay one at a time).",
    ),
    as_json: bool = JSON,
) -> None:
    """Create many agents at once: every row checked first, then many agents per transaction."""
    import time

    from wacrm.agents.service import create_agents

    if (file is None) == (count is None):
        fail("give a CSV file or --count")
    rows = _agent_rows(file, count)
    created: list[dict[str, Any]] = []

    async def go(conn: Any) -> float:
        specs, admin_id = await _agent_specs(conn, rows)
        started = time.perf_counter()
        await create_agents(
            conn,
            created_by=admin_id,
            specs=specs,
            batch_size=batch_size,
            on_batch=created.extend,
            sessions=sessions,
            connect=lambda: open_connection(database_url(migrate_first=False)),
            fallback_currency=cli_settings().default_currency,
        )
        return time.perf_counter() - started

    try:
        seconds = _run(go)
    finally:
        if len(created) < len(rows):
            console.print(f"[yellow]{len(created)} of {len(rows)} agents were created[/]")
    data = {
        "created": len(created),
        "seconds": round(seconds, 2),
        "agents": [
            {
                "id": a["id"],
                "agent_prefix": a["agent_prefix"],
                "user_id": str(a["user_id"]) if a["user_id"] else None,
            }
            for a in created
        ],
    }
    first, last = (created[0]["agent_prefix"], created[-1]["agent_prefix"]) if created else ("", "")
    emit(data, as_json, f"created {len(created)} agents ({first} … {last}) in {seconds:.1f} s")


def _agent_rows(file: Any, count: int | None) -> list[dict[str, str]]:
    """The rows to create: `count` empty ones, or the CSV's (columns user, prefix, currency)."""
    import csv

    rows = (
        [{} for _ in range(count)]
        if count
        else [
            {k.strip().lower(): (v or "").strip() for k, v in r.items() if k}
            for r in csv.DictReader(file)
        ]
    )
    unknown = {k for r in rows for k in r} - {"user", "prefix", "currency"}
    if unknown:
        fail(f"unknown column(s) {', '.join(sorted(unknown))}: use user, prefix, currency")
    return rows


async def _agent_specs(conn: Any, rows: list[dict[str, str]]) -> tuple[list[Any], Any]:
    """The agents to create (users found by email) and the admin who creates them."""
    from wacrm.agents.service import AgentSpec

    emails = sorted({r["user"].lower() for r in rows if r.get("user")})
    users: dict[str, Any] = {}
    if emails:
        cur = await conn.execute(
            "SELECT lower(email) AS email, id FROM users WHERE lower(email) = ANY(%s)", (emails,)
        )
        users = {r["email"]: r["id"] for r in await cur.fetchall()}
        missing = [e for e in emails if e not in users]
        if missing:
            raise ValueError(f"no user with email {', '.join(missing[:5])}")
    cur = await conn.execute(
        "SELECT id FROM users WHERE role = 'admin' ORDER BY created_at LIMIT 1"
    )
    admin = await cur.fetchone()
    if admin is None:
        raise ValueError("create an admin first")
    specs = [
        AgentSpec(
            user_id=users[r["user"].lower()] if r.get("user") else None,
            prefix=r.get("prefix") or None,
            default_currency=(r.get("currency") or "").upper() or None,
        )
        for r in rows
    ]
    return specs, admin["id"]


@whatsapp_app.command("configure")
def whatsapp_configure(
    user: str = typer.Option(..., "--user", help="The user's email."),
    whatsapp_number: str = typer.Option(None, "--whatsapp-number"),
    phone_number_id: str = typer.Option(None, "--phone-number-id"),
    business_account_id: str = typer.Option(None, "--business-account-id"),
    access_token: str = typer.Option(None, "--access-token", envvar="WACRM_WHATSAPP_ACCESS_TOKEN"),
    app_secret: str = typer.Option(None, "--app-secret", envvar="WACRM_WHATSAPP_APP_SECRET"),
    verify_token: str = typer.Option(None, "--verify-token"),
    active: bool = typer.Option(None, "--active/--inactive"),
    as_json: bool = JSON,
) -> None:
    """Create or update a user's WhatsApp configuration (secrets are stored encrypted)."""
    from wacrm.numbers.service import configure

    async def go(conn: Any) -> dict[str, Any]:
        return await configure(
            conn,
            user_id=await _user_id(conn, user),
            webhook_url=cli_settings().webhook_url,
            whatsapp_number=whatsapp_number,
            phone_number_id=phone_number_id,
            business_account_id=business_account_id,
            access_token=access_token,
            app_secret=app_secret,
            verify_token=verify_token,
            is_active=active,
        )

    row = _run(go)
    data = {
        k: (str(v) if k == "user_id" else v)
        for k, v in row.items()
        if k
        in (
            "id",
            "user_id",
            "whatsapp_number",
            "phone_number_id",
            "business_account_id",
            "webhook_url",
            "is_active",
            "access_token_hint",
            "app_secret_hint",
            "verify_token_hint",
        )
    }
    emit(data, as_json, f"configured {row['whatsapp_number']}; webhook URL {row['webhook_url']}")


@secrets_app.command("rotate")
def secrets_rotate(
    old_key: str = typer.Option(
        None, "--old-key", help="The previous WACRM_SECRET_KEY (or set WACRM_OLD_SECRET_KEY)."
    ),
    as_json: bool = JSON,
) -> None:
    """Re-encrypt every stored secret with the current WACRM_SECRET_KEY."""
    from wacrm.security.rotate import rotate_secrets

    old = old_key or os.environ.get("WACRM_OLD_SECRET_KEY")
    if not old:
        fail("give the previous key with --old-key or WACRM_OLD_SECRET_KEY")

    async def go(conn: Any) -> int:
        return await rotate_secrets(conn, old_key=old)

    count = _run(go)
    emit({"reencrypted": count}, as_json, f"re-encrypted {count} secrets with the current key")


def register(app: typer.Typer) -> None:
    from wacrm.members.cli import member_app

    agent_app.add_typer(member_app, name="member")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(agent_app, name="agent")
    app.add_typer(whatsapp_app, name="whatsapp")
    app.add_typer(secrets_app, name="secrets")
