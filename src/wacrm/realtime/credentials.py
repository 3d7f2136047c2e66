"""Credential changes: a user's sessions or tokens were revoked (or the user deactivated, or its
role changed). Announced to every process, whose live streams of that user re-check at once."""

from __future__ import annotations

from typing import Any

import orjson
from psycopg import AsyncConnection

CREDENTIALS_CHANNEL = "wacrm_credentials"


async def credentials_changed(conn: AsyncConnection[Any], *, user_id: Any) -> None:
    """pg_notify on CREDENTIALS_CHANNEL (delivered at commit, to every process's event hub)."""
    text = orjson.dumps({"user_id": str(user_id)}).decode()
    await conn.execute("SELECT pg_notify(%s, %s)", (CREDENTIALS_CHANNEL, text))
