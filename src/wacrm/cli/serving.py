"""What `wacrm serve` shows and does around uvicorn: the start-up summary, and the embedded
server stopped when the command ends (Ctrl-C, SIGTERM) unless another CRM process uses it."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType

import httpx

from wacrm.cli.common import console

_received: list[int] = []


def exit_on_sigterm() -> None:
    """SIGTERM ends the command like Ctrl-C does: through `finally` (see `end_as_signalled`).

    uvicorn catches SIGTERM while serving and, once shut down, raises it again with the handler
    found before it started; Python's default would end the process on the spot, leaving the
    embedded PostgreSQL running."""

    def handler(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        raise SystemExit(128 + signum)

    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, handler)


def end_as_signalled() -> None:
    """After the clean-up, a SIGTERM ends the process as SIGTERM does (what systemd, Docker and
    supervisors expect of a stopped service), not with an exit status."""
    if _received:
        sys.stderr.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def summary(url: str, lines: dict[str, str]) -> str:
    """The short block that ends start-up: where to go and how to sign in."""
    rows = {"Open": url, **lines}
    width = max(len(label) for label in rows) + 2
    body = "\n".join(f"  {label + ':':<{width}}{text}" for label, text in rows.items())
    return f"\niDesign WhatsApp CRM is ready\n{body}\n  Stop it with Ctrl-C.\n"


SETTLE_SECONDS = 1.0  # the first jobs' log lines come just after readiness; the summary after them


def print_summary_when_ready(url: str, lines: dict[str, str], timeout: float = 120) -> None:
    """In a thread: once the CRM answers /readyz, print the summary (the last thing start-up says)."""

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    time.sleep(SETTLE_SECONDS)
                    console.print(summary(url, lines), highlight=False, soft_wrap=True)
                    sys.stderr.flush()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    threading.Thread(target=wait, name="wacrm-ready", daemon=True).start()
