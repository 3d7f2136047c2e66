"""The ASGI application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from wacrm import __version__
from wacrm.config import Settings, get_settings
from wacrm.db.migrate import discover
from wacrm.db.pool import create_pool
from wacrm.db.replica import ReadRouter
from wacrm.inbound.endpoint import is_webhook_post
from wacrm.ops.errors import install as install_error_handlers
from wacrm.ops.limits import BodySizeLimitMiddleware
from wacrm.ops.metrics import MetricsMiddleware
from wacrm.ops.openapi import install as install_openapi
from wacrm.ops.responses import OrjsonResponse
from wacrm.security import crypto

log = logging.getLogger(__name__)

# Extra start-up work registered by feature packages: each gets (app, stack) and may push
# context managers (background tasks, listeners) onto the stack, which closes them on shutdown.
StartupHook = Callable[[FastAPI, AsyncExitStack], Awaitable[None]]


class CRMApp(FastAPI):
    """FastAPI, with Meta's webhook POST answered before the middleware stack (wacrm.inbound.endpoint)."""

    webhook_fast_path: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.webhook_fast_path is not None and is_webhook_post(scope):
            await self.webhook_fast_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _include_routers(app: FastAPI) -> None:
    """Every router; their order does not matter (a path parameter never takes another route's
    literal path: numeric ids are `{name:int}`; tests/test_routes.py checks it)."""
    from wacrm.ops.apidocs import router as apidocs_router
    from wacrm.ops.router import router as ops_router

    app.include_router(ops_router)
    app.include_router(apidocs_router)
    from wacrm.accounts.router import router as accounts_router
    from wacrm.agents.router import router as agents_router
    from wacrm.numbers.router import router as numbers_router

    app.include_router(accounts_router)
    app.include_router(agents_router)
    app.include_router(numbers_router)
    from wacrm.inbound.router import admin_router as webhooks_admin_router
    from wacrm.inbound.router import router as webhooks_router

    app.include_router(webhooks_router)
    app.include_router(webhooks_admin_router)
    from wacrm.customers.router import router as customers_router

    app.include_router(customers_router)
    from wacrm.orders.router import router as orders_router

    app.include_router(orders_router)
    from wacrm.media.router import router as media_router

    app.include_router(media_router)
    from wacrm.conversations.router import router as conversations_router
    from wacrm.conversations.team_router import router as team_router
    from wacrm.realtime.router import router as realtime_router

    app.include_router(team_router)
    app.include_router(conversations_router)
    app.include_router(realtime_router)
    from wacrm.outbound.router import router as outbound_router

    app.include_router(outbound_router)
    from wacrm.broadcasts.router import router as broadcasts_router

    app.include_router(broadcasts_router)
    from wacrm.members.router import availability as availability_router
    from wacrm.members.router import router as members_router

    app.include_router(members_router)
    from wacrm.members.router import settings_router as workspace_settings_router

    app.include_router(workspace_settings_router)
    from wacrm.canned.router import router as canned_router
    from wacrm.notes.router import router as notes_router

    app.include_router(notes_router)
    from wacrm.reports.router import router as reports_router

    app.include_router(reports_router)
    app.include_router(canned_router)
    app.include_router(availability_router)
    from wacrm.web import install as install_web

    install_web(app)


def _startup_hooks(settings: Settings) -> list[StartupHook]:
    from wacrm.realtime.hub import startup_hook as start_event_hub

    hooks: list[StartupHook] = [start_event_hub]
    from wacrm.inbound.batcher import start_webhook_batcher

    hooks.append(start_webhook_batcher)
    if settings.run_worker:
        from wacrm.worker import start_inprocess_worker

        hooks.append(start_inprocess_worker)
    from wacrm.inbound.endpoint import freeze_startup_objects

    hooks.append(freeze_startup_objects)  # last: after everything startup creates
    return hooks


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app. The database URL comes from the argument, DATABASE_URL, or the embedded server."""
    settings = settings or get_settings()
    crypto.use_key(settings.effective_secret_key)
    url = database_url or settings.database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError(
            "create_app needs a database URL (wacrm serve resolves the embedded one)"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(
            url,
            max_size=settings.db_pool_size,
            pooled=settings.pooled,
            memory_mib=settings.db_backend_memory_mib,
        )
        await pool.open(wait=False)
        app.state.pool = pool
        reads = ReadRouter(
            pool,
            settings.database_read_url,
            max_lag=settings.read_max_lag_seconds,
            pooled=settings.pooled,
        )
        await reads.start()
        app.state.reads = reads  # dashboard, exports, admin journal view (wacrm.db.replica)
        async with AsyncExitStack() as stack:
            for hook in _startup_hooks(settings):
                await hook(app, stack)
            try:
                yield
            finally:
                log.info("shutting down")
        await reads.stop()
        await pool.close()

    app = CRMApp(
        title="iDesign WhatsApp CRM",
        version=__version__,
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # wacrm.ops.apidocs serves /api/docs from vendored files, under the CSP
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.database_url = url
    app.state.schema_version = max(m.version for m in discover())
    _include_routers(app)
    install_openapi(app)
    install_error_handlers(app)
    from wacrm.inbound.endpoint import WebhookFastPath

    app.webhook_fast_path = WebhookFastPath(app, settings.max_body_bytes)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides=_body_limit_overrides(settings),
    )
    app.add_middleware(MetricsMiddleware)
    return app


def _body_limit_overrides(settings: Settings) -> dict[str, int]:
    """Uploads (the API's media upload, the chat composer's attachment) may be larger than other bodies."""
    return {
        "/api/v1/media": settings.max_upload_bytes,
        "/chat/": settings.max_upload_bytes,
        "/customers/import": settings.max_upload_bytes,
    }


def app_from_env() -> Any:
    """Factory for `uvicorn --factory wacrm.app:app_from_env` (multi-process serving)."""
    return create_app()
