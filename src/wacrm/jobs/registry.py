"""The registry of job handlers and periodic maintenance tasks."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pgqueuer.errors import RetryRequested

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Periodic = Callable[[], Awaitable[None]]


class Retry(RetryRequested):
    """Raise in a handler to run the job again after `delay` (its attempt count goes up by one)."""

    def __init__(self, delay: timedelta = timedelta(0), reason: str | None = None) -> None:
        super().__init__(delay=delay, reason=reason)


@dataclass(frozen=True)
class EntrypointSpec:
    name: str
    handler: Handler
    concurrency_limit: int = 0
    max_attempts: int = 0


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    func: Periodic
    every: timedelta


ENTRYPOINTS: dict[str, EntrypointSpec] = {}
PERIODICS: dict[str, PeriodicSpec] = {}
STOP_HOOKS: dict[str, Periodic] = {}
_attempt: contextvars.ContextVar[int] = contextvars.ContextVar("wacrm_job_attempt", default=0)


def current_attempt() -> int:
    """How many times the running job was retried before (0 on its first run)."""
    return _attempt.get()


def entrypoint(
    name: str, *, concurrency_limit: int = 0, max_attempts: int = 0
) -> Callable[[Handler], Handler]:
    """Register `async def handler(payload: dict) -> None` for jobs queued under `name`.

    `concurrency_limit` caps the jobs of this name running at once across all workers (0: no cap);
    `max_attempts` > 0 retries any exception with exponential back-off up to that many attempts.
    """

    def register(handler: Handler) -> Handler:
        existing = ENTRYPOINTS.get(name)
        if existing is not None and existing.handler.__qualname__ != handler.__qualname__:
            raise RuntimeError(f"job entrypoint {name!r} is registered twice")
        ENTRYPOINTS[name] = EntrypointSpec(name, handler, concurrency_limit, max_attempts)
        return handler

    return register


def periodic(name: str, *, every: timedelta) -> Callable[[Periodic], Periodic]:
    """Register idempotent maintenance that every worker runs every `every` (use SKIP LOCKED inside)."""

    def register(func: Periodic) -> Periodic:
        PERIODICS[name] = PeriodicSpec(name, func, every)
        return func

    return register


def on_stop(name: str) -> Callable[[Periodic], Periodic]:
    """Register clean-up a worker runs when it stops (e.g. closing a feature's shared HTTP pool)."""

    def register(func: Periodic) -> Periodic:
        STOP_HOOKS[name] = func
        return func

    return register


def set_attempt(value: int) -> contextvars.Token[int]:
    return _attempt.set(value)


def reset_attempt(token: contextvars.Token[int]) -> None:
    _attempt.reset(token)
