"""The embedded PostgreSQL server (pgserver) used when no DATABASE_URL is given."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL server could not be started."""


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> tuple[str, Any]:
    """Start (or attach to) the embedded server in `data_dir/pgdata`; return its URL and handle.

    The data folder survives restarts. With `cleanup_mode="stop"` the server stops when the last
    process using it exits.
    """
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - pgserver is a hard dependency
        raise EmbeddedDatabaseError("pgserver is not installed") from exc
    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)
    except Exception as exc:
        raise EmbeddedDatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
        ) from exc
    url = server.get_uri()
    log.info("embedded PostgreSQL running in %s", pgdata)
    return url, server
