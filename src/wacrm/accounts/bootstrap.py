"""First start: create an admin when there is none."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import psycopg
from psycopg.rows import dict_row

from wacrm.accounts import service
from wacrm.accounts.passwords import generate_password
from wacrm.config import Settings
from wacrm.db.pool import connect_kwargs


async def ensure_admin(
    conn: psycopg.AsyncConnection[Any], settings: Settings
) -> tuple[str, str] | None:
    """Create the first admin if no active admin exists: (email, generated password or '').

    Processes starting at once on one database take turns (a transaction-scoped advisory lock):
    one creates the admin, the others find it.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('wacrm.first_admin'))")
        if await service.admin_exists(conn):
            return None
        email = settings.admin_email or "admin@localhost"
        password = settings.admin_password or generate_password()
        await service.create_user(
            conn, email=email, name="Administrator", role="admin", password=password
        )
    return email, ("" if settings.admin_password else password)


def bootstrap_admin(url: str, settings: Settings) -> dict[str, str]:
    """BOOTSTRAP_HOOKS entry: the first admin, with a generated password kept once in
    initial-admin.txt (0600); returns the lines for the start-up summary ({label: text})."""
    path = settings.data_dir / "initial-admin.txt"

    async def run() -> tuple[tuple[str, str] | None, str | None]:
        async with await psycopg.AsyncConnection.connect(
            url, row_factory=dict_row, autocommit=True, **connect_kwargs(settings.pooled)
        ) as c:
            created = await ensure_admin(c, settings)
            cur = await c.execute(
                "SELECT email FROM users WHERE role = 'admin' AND is_active ORDER BY created_at LIMIT 1"
            )
            row = await cur.fetchone()
            return created, row["email"] if row else None

    created, first_admin = asyncio.run(run())
    if created is None:
        where = f" (first password in {path})" if path.exists() else ""
        return {"Admin login": f"{first_admin}{where}"} if first_admin else {}
    email, password = created
    if not password:
        return {"Admin login": f"{email} / the password in WACRM_ADMIN_PASSWORD"}
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"email: {email}\npassword: {password}\n")
    path.chmod(0o600)
    return {
        "Admin login": f"{email} / {password}  (new; also in {path}: change it after signing in)"
    }
