"""/healthz (process up), /readyz (database reachable and migrated), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from wacrm.ops import metrics

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    pool = request.app.state.pool
    expected = request.app.state.schema_version
    try:
        async with asyncio.timeout(2):
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT max(version) AS v FROM schema_migrations")
                row = await cur.fetchone()
    except Exception as exc:  # any failure means not ready
        return JSONResponse(
            {"ready": False, "database": f"unreachable: {type(exc).__name__}"}, status_code=503
        )
    version = row["v"] if row else None
    if version != expected:
        return JSONResponse(
            {"ready": False, "database": f"schema at {version}, code expects {expected}"},
            status_code=503,
        )
    return JSONResponse({"ready": True, "database": "ok", "schema_version": version})


PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _is_loopback(request: Request) -> bool:
    """A direct request from this machine (a request relayed by a local proxy names its client)."""
    if request.client is None or any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def metrics_refusal(request: Request) -> Response | None:
    """None when the caller may read /metrics (WACRM_METRICS_TOKEN, else loopback only)."""
    token = request.app.state.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return PlainTextResponse(
            "/metrics needs 'Authorization: Bearer <WACRM_METRICS_TOKEN>'\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if _is_loopback(request):
        return None
    return PlainTextResponse(
        "/metrics is readable from this machine only; set WACRM_METRICS_TOKEN to scrape it"
        " from elsewhere\n",
        status_code=403,
    )


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    try:  # the journal backlog, read at scrape time (index scan of the waiting rows)
        async with asyncio.timeout(2), request.app.state.pool.connection() as conn:
            cur = await conn.execute(metrics.JOURNAL_SQL)
            row = await cur.fetchone()
        if row is not None:
            metrics.JOURNAL_WAITING.set(row["n"])
            metrics.JOURNAL_OLDEST.set(float(row["age"]))
    except Exception as exc:  # metrics stay available while the database is not
        log.debug("journal backlog not read for /metrics: %s", exc)
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
