"""The embedded PostgreSQL server (pgserver) used when no DATABASE_URL is given.

Its output (initdb, pg_ctl, pgserver's own messages, also those of its exit hook) goes to
`embedded-postgres.log` in the data folder, never to the console; the server's log is
`pgdata/log`. Both are shown when the server cannot start.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOG_NAME = "embedded-postgres.log"
_PGSERVER = logging.getLogger("pgserver")
# pgserver logs from an exit hook, after test runners and CLI runners closed their streams: its
# messages never reach the console's handlers ("--- Logging error --- ... closed file").
_PGSERVER.propagate = False
_PGSERVER.addHandler(logging.NullHandler())


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL server could not be started."""


def _log_to(path: Path) -> None:
    """pgserver's messages go to `path` (one file handler of ours at a time)."""
    for handler in [h for h in _PGSERVER.handlers if getattr(h, "wacrm_log", False)]:
        _PGSERVER.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.wacrm_log = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    _PGSERVER.addHandler(handler)
    _PGSERVER.setLevel(logging.INFO)


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file ('' if there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _import_pgserver() -> Any:
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set, falling back"
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        warnings.filterwarnings("ignore", module="platformdirs")
        import pgserver
    return pgserver


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> tuple[str, Any]:
    """Start (or attach to) the embedded server in `data_dir/pgdata`; return its URL and handle.

    The data folder survives restarts. With `cleanup_mode="stop"` the server stops when the last
    process using it exits (see `release`).
    """
    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log_file = pgdata.parent / LOG_NAME
    _log_to(log_file)
    try:
        pgserver = _import_pgserver()
    except ImportError as exc:  # pragma: no cover - pgserver is a hard dependency
        raise EmbeddedDatabaseError("pgserver is not installed") from exc
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="platformdirs")
            server = pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)
    except Exception as exc:
        details = "\n".join(
            f"--- {path} (last lines) ---\n{tail}"
            for path in (log_file, pgdata / "log")
            if (tail := log_tail(path))
        )
        raise EmbeddedDatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}\n{details}".rstrip()
        ) from exc
    url = server.get_uri()
    log.debug("embedded PostgreSQL running in %s", pgdata)
    return url, server


def release(server: Any) -> None:
    """This process is done with the embedded server: stop it unless another live process uses it.

    pgserver keeps the pids of the processes using a server and stops it when the last one leaves;
    pids of processes that died without leaving (SIGKILL, a crash) are dropped first, or the server
    would never stop."""
    import psutil

    with server._lock:
        pids = server.global_process_id_list
        alive = [pid for pid in pids.get() if psutil.pid_exists(pid)]
        pids.put(alive)
    server.cleanup()
