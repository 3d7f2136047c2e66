"""The web app: server-rendered Jinja2 pages with htmx and Server-Sent Events."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the web pages, static files, security headers and the sign-in redirect on the app."""
    from wacrm.web import (
        admin,
        alerts,
        auth,
        away,
        broadcasts,
        chat,
        connect,
        contacts,
        customer_messages,
        dashboard,
        errors,
        inbox,
        integrations,
        message_versions,
        order_new,
        orders,
        preferences,
        pwa,
        team,
        team_pages,
        wa_templates,
    )
    from wacrm.web.deps import LoginRequired, login_redirect
    from wacrm.web.security import SecurityHeadersMiddleware
    from wacrm.web.viewer import ViewerMiddleware

    app.include_router(auth.router)
    app.include_router(inbox.router)
    app.include_router(chat.router)
    app.include_router(message_versions.router)
    app.include_router(order_new.router)  # /orders/new before /orders/{order_id}
    app.include_router(team.router)
    app.include_router(team_pages.router)
    app.include_router(orders.router)
    app.include_router(admin.router)
    app.include_router(connect.router)
    app.include_router(integrations.router)
    app.include_router(contacts.router)
    app.include_router(contacts.panel_router)
    app.include_router(broadcasts.router)
    app.include_router(away.router)
    app.include_router(wa_templates.router)
    app.include_router(dashboard.router)
    app.include_router(preferences.router)
    app.include_router(customer_messages.router)
    app.include_router(alerts.router)
    app.include_router(pwa.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(LoginRequired, login_redirect)  # type: ignore[arg-type]
    errors.install(app)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ViewerMiddleware)
