"""phone_number_id → configuration → agent → tables, cached in process for a few seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.inbound.schemas import usable_id
from wacrm.numbers import service as numbers

TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Route:
    """Everything the webhook needs about one number, resolved once."""

    config_id: int
    phone_number_id: str
    app_secret: str | None
    is_active: bool
    agent_id: int | None
    tables: AgentTables | None

    @property
    def problem(self) -> str | None:
        """Why webhooks for this number cannot be processed now (None when they can)."""
        if not self.is_active:
            return f"the WhatsApp number with phone_number_id {self.phone_number_id} is inactive"
        if self.tables is None:
            return (
                f"the WhatsApp number with phone_number_id {self.phone_number_id} belongs to a user "
                "that is not linked to an active agent"
            )
        return None


class RouteSource(Protocol):
    async def get(self, conn: AsyncConnection[Any], phone_number_id: str) -> Route | None: ...


class RouteCache:
    """A small TTL cache; `invalidate()` drops everything (e.g. on a configuration change)."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Route | None]] = {}

    def invalidate(self) -> None:
        self._items.clear()

    def peek(self, phone_number_id: str) -> tuple[bool, Route | None]:
        """(True, route) on a fresh cache hit (route None: known to be unknown), else (False, None)."""
        hit = self._items.get(phone_number_id)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    async def get(self, conn: AsyncConnection[Any], phone_number_id: str) -> Route | None:
        if not usable_id(phone_number_id):
            return None
        now = time.monotonic()
        hit = self._items.get(phone_number_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        route = await load_route(conn, phone_number_id)
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[phone_number_id] = (now + self.ttl, route)
        return route


async def load_route(conn: AsyncConnection[Any], phone_number_id: str) -> Route | None:
    """The route of a phone_number_id straight from the database (None if unknown)."""
    cfg = await numbers.get_by_phone_number_id(conn, phone_number_id)
    if cfg is None:
        return None
    linked = cfg.get("agent_id") is not None and cfg.get("agent_is_active", True) is not False
    return Route(
        config_id=int(cfg["id"]),
        phone_number_id=phone_number_id,
        app_secret=cfg.get("app_secret"),
        is_active=bool(cfg.get("is_active", True)),
        agent_id=int(cfg["agent_id"]) if cfg.get("agent_id") is not None else None,
        tables=AgentTables(int(cfg["agent_id"]), cfg["agent_prefix"]) if linked else None,
    )


def route_cache(app: Any) -> RouteCache:
    """The app's route cache (made on first use)."""
    cache = getattr(app.state, "route_cache", None)
    if cache is None:
        cache = app.state.route_cache = RouteCache()
    return cache
