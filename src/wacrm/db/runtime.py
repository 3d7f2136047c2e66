"""Which database to use: DATABASE_URL, or the embedded server in WACRM_DATA_DIR."""

from __future__ import annotations

from typing import Any

import psycopg

from wacrm.config import Settings
from wacrm.db.embedded import start_embedded


class DatabaseUnavailableError(RuntimeError):
    """The database cannot be reached (the message says which and why)."""


def resolve_database_url(settings: Settings) -> tuple[str, Any]:
    """The URL to use and, for the embedded server, its handle (keep it alive while serving)."""
    if settings.database_url:
        return settings.database_url, None
    return start_embedded(settings.data_dir)


def check_reachable(url: str, timeout: float = 5.0) -> None:
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        safe = url.split("@")[-1] if "@" in url else url
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailableError(
            f"cannot reach the database at {safe}: {first_line}"
        ) from exc
