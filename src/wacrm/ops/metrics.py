"""Prometheus metrics and the ASGI middleware that records request counts and latencies."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "wacrm_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "wacrm_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)

JOURNAL_WAITING = Gauge(
    "wacrm_webhook_journal_waiting",
    "Webhooks answered 200 and journaled, not yet processed (deferred processing)",
    registry=REGISTRY,
)
JOURNAL_OLDEST = Gauge(
    "wacrm_webhook_journal_oldest_waiting_seconds",
    "Age of the oldest journaled webhook waiting for a journal processor (0: none waits)",
    registry=REGISTRY,
)
JOURNAL_SQL = (
    "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(received_at)), 0) AS age"
    " FROM webhook_journal WHERE status = 'received'"
)


def render() -> bytes:
    return generate_latest(REGISTRY)


def _route_template(app: Any, scope: Scope) -> str:
    for route in getattr(app, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return "unmatched"


class MetricsMiddleware:
    """Counts requests and times them by route template (not raw path, to bound cardinality)."""

    def __init__(self, app: ASGIApp, router_app: Any = None) -> None:
        self.app = app
        self.router_app = router_app
        self._templates: dict[tuple[str, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            key = (scope["method"], scope["path"])
            route = self._templates.get(key)
            if route is None:
                route = _route_template(self.router_app or scope.get("app"), scope)
                if len(self._templates) < 10_000:
                    self._templates[key] = route
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
