"""The sandbox ASGI app: Graph API routes (with or without a `/vNN.N` prefix) and `/sandbox/`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from wacrm.sandbox import errors
from wacrm.sandbox.errors import GraphError
from wacrm.sandbox.state import SandboxConfig, SandboxState

_VERSION = re.compile(r"^/v[0-9]+(\.[0-9]+)?(?=/)")


class StripVersion:
    """Route `/v23.0/...` like `/...` (Meta's path version is accepted and ignored)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = _VERSION.sub("", scope["path"], count=1)
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_sandbox_app(config: SandboxConfig | None = None) -> FastAPI:
    state = SandboxState(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(trust_env=False) as http:
            app.state.http = http
            try:
                yield
            finally:
                state.reset(keep_numbers=True)

    app = FastAPI(
        title="WhatsApp sandbox",
        version="23.0",
        lifespan=lifespan,
        docs_url="/sandbox/docs",
        openapi_url="/sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = state

    @app.exception_handler(GraphError)
    async def graph_error(request: Request, exc: GraphError) -> JSONResponse:
        number_id = getattr(request.state, "number_id", None)
        if number_id:
            state.errors[number_id][exc.code] += 1
        return JSONResponse(
            exc.body(),
            status_code=exc.status,
            headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'}
            if exc.code == 190
            else None,
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.url.path.startswith("/sandbox/"):
            return JSONResponse({"detail": jsonable(exc.errors())}, status_code=422)
        return JSONResponse(errors.invalid_parameter(str(exc.errors())).body(), status_code=400)

    from wacrm.sandbox.account import router as account_router
    from wacrm.sandbox.graph import router as graph_router
    from wacrm.sandbox.router import router as control_router

    app.include_router(control_router)
    app.include_router(account_router)  # before graph's GET /{node_id}
    from wacrm.sandbox.template_admin import router as template_router
    from wacrm.sandbox.uploads import router as upload_router

    app.include_router(upload_router)  # before template_admin's POST /{template_id}

    app.include_router(template_router)
    from wacrm.sandbox.plays import router as plays_router

    app.include_router(plays_router)
    app.include_router(graph_router)
    app.add_middleware(StripVersion)
    return app


def jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value, custom_encoder={Exception: str})
