"""What one in-process request costs: statements sent, CPU of this process and of the database.

`StatementLog` counts (and keeps the text of) every statement this process sends through psycopg
while it is active; `backend_cpu_s` sums the CPU time of the database's server processes (from
/proc, when the server runs on this machine). Used by the admin pages benchmark.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import psycopg

_TICK = os.sysconf("SC_CLK_TCK")


class StatementLog:
    """Statements sent by this process while `active` (psycopg's cursors patched once)."""

    current: StatementLog | None = None  # the log the patched cursors write to

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.active = False
        StatementLog.current = self
        for cls in (psycopg.AsyncCursor, psycopg.AsyncServerCursor):
            for name in ("execute", "executemany", "stream"):
                original = getattr(cls, name, None)
                if original is not None and not getattr(original, "_probed", False):
                    setattr(cls, name, _wrap(original))

    def record(self, query: Any) -> None:
        if self.active:
            self.texts.append(_text(query))

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        self.texts, self.active = [], True
        try:
            yield self.texts
        finally:
            self.active = False


def _wrap(original: Any) -> Any:
    def wrapped(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if StatementLog.current is not None:  # (a second benchmark phase: a new log)
            StatementLog.current.record(query)
        return original(self, query, *args, **kwargs)

    wrapped._probed = True  # type: ignore[attr-defined]
    return wrapped


def _text(query: Any) -> str:
    if isinstance(query, str | bytes):
        text = query.decode() if isinstance(query, bytes) else query
    else:
        try:
            text = query.as_string(None)
        except Exception:  # noqa: BLE001 (a Composed needing a connection: its repr)
            text = repr(query)
    return " ".join(text.split())[:160]


def backend_cpu_s(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of these server processes readable here."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes present before and after spent between (an ended process's
    id may be reused: a negative difference counts 0)."""
    return sum(max(0.0, after[pid] - cpu) for pid, cpu in before.items() if pid in after)


def database_pids(conn: psycopg.Connection[Any]) -> list[int]:
    """Server processes connected to this connection's database now, but its own."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()"
    ).fetchall()
    return [r[0] for r in rows]
