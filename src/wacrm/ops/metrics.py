"""Prometheus metrics and the ASGI middleware that records request counts and latencies."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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


UNMATCHED = "unmatched"  # the one label of every path that matches no route (404)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    """The template of the route that handled the request (`/chat/{customer_id}`), never the raw path.

    The router leaves the matched route in the scope (a partial match too: 405); a request that
    matched none (404) gets UNMATCHED, so a stranger's paths cannot grow the label set.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template.startswith("/") else UNMATCHED


def method_label(scope: Scope) -> str:
    """The request method, or `other` for a method no route knows (clients choose it freely)."""
    method = str(scope.get("method", ""))
    return method if method in KNOWN_METHODS else "other"


class MetricsMiddleware:
    """Counts requests and times them by route template (not raw path, to bound cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            method, route = method_label(scope), route_label(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - start)
