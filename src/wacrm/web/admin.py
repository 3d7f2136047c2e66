"""Admin pages (administrators only; others get 404): users, agents, WhatsApp numbers, webhook journal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg import AsyncConnection

from wacrm.accounts import service as accounts
from wacrm.accounts import sessions
from wacrm.accounts.deps import CurrentUser, db_conn, request_connection
from wacrm.agents import service as agents
from wacrm.i18n import gettext as _
from wacrm.i18n.text import Text
from wacrm.inbound import ingest
from wacrm.numbers import service as numbers
from wacrm.outbound import errors as send_errors
from wacrm.outbound.client import client_for
from wacrm.web.admin_parts import chosen_user, section_context
from wacrm.web.deps import web_user
from wacrm.web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)
HOLDS = [Depends(db_conn)]  # the page's one connection (not the number test: it waits on Meta)
Conn = AsyncConnection[Any]
AgentId = Path(..., ge=1, le=2**31 - 1)
ConfigId = Path(..., ge=1, le=2**63 - 1)
DONE = {
    "user-created": Text("User created."),
    "user-saved": Text("User saved."),
    "user-active": Text("User updated."),
    "password": Text("Password reset: the user's sessions were signed out."),
    "agent-created": Text("Agent created with its tables."),
    "agent-linked": Text("Agent's user changed."),
    "agent-active": Text("Agent updated."),
    "number-saved": Text("WhatsApp configuration saved."),
    "replayed": Text("Webhook processed."),
}


async def web_admin(user: CurrentUser = Depends(web_user)) -> CurrentUser:
    """Administrators only; anyone else is told there is no such page (404, like other agents' data)."""
    if not user.is_admin:
        raise HTTPException(404, detail="Not Found")
    return user


async def _page(
    request: Request,
    user: CurrentUser,
    section: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    done: str = "",
    **extra: Any,
) -> Response:
    """Render one admin section with everything it lists."""
    context: dict[str, Any] = {
        "section": section,
        "error": error,
        "message": DONE.get(done),
        **extra,
    }
    async with request_connection(request) as conn:
        context.update(await section_context(request, conn, section, extra))
    return await render(
        request, f"admin_{section}.html", user=user, nav="admin", status_code=status_code, **context
    )


async def _act(
    request: Request,
    user: CurrentUser,
    section: str,
    done: str,
    call: Callable[[Conn], Awaitable[Any]],
    **extra: Any,
) -> Response:
    """Run one change: back to the section (303), or the section with the error (4xx)."""
    async with request_connection(request) as conn:
        try:
            await call(conn)
        except (accounts.AccountError, agents.AgentError, numbers.NumberError) as exc:
            return await _page(
                request, user, section, status_code=exc.status, error=str(exc), **extra
            )
    return RedirectResponse(f"/admin/{section}?done={done}", status_code=303)


@router.get("")
async def admin_home(user: CurrentUser = Depends(web_admin)) -> Response:
    return RedirectResponse("/admin/users", status_code=303)


# --- users ---------------------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse, dependencies=HOLDS)
async def users_page(
    request: Request,
    done: str = Query("", max_length=20),
    page: int = Query(1, ge=1, le=10**6),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    return await _page(request, user, "users", done=done, page=page)


@router.post("/users", dependencies=HOLDS)
async def create_user(
    request: Request,
    user: CurrentUser = Depends(web_admin),
    email: str = Form("", max_length=320),
    name: str = Form("", max_length=400),
    role: str = Form("agent", max_length=20),
    password: str = Form("", max_length=1024),
    with_agent: bool = Form(False),
) -> Response:
    """Create a user with a password; for agents, optionally their agent (and tables) at once."""

    async def call(conn: Conn) -> None:
        if not password:
            raise accounts.AccountError(
                Text("give the new user a first password (they can change it)")
            )
        async with conn.transaction():
            created = await accounts.create_user(
                conn, email=email, name=name, role=role, password=password
            )
            if with_agent:
                await agents.create_agent(
                    conn,
                    created_by=user.id,
                    user_id=created["id"],
                    fallback_currency=request.app.state.settings.default_currency,
                )

    return await _act(request, user, "users", "user-created", call)


@router.post("/users/{user_id}", dependencies=HOLDS)
async def edit_user(
    request: Request,
    user_id: UUID,
    user: CurrentUser = Depends(web_admin),
    name: str = Form("", max_length=400),
    role: str = Form("", max_length=20),
) -> Response:
    async def call(conn: Conn) -> None:
        if user_id == user.id and role and role != "admin":
            raise accounts.AccountError(Text("you cannot take away your own administrator role"))
        await accounts.update_user(conn, user_id=user_id, name=name, role=role or None)

    return await _act(request, user, "users", "user-saved", call)


@router.post("/users/{user_id}/active", dependencies=HOLDS)
async def user_active(
    request: Request,
    user_id: UUID,
    user: CurrentUser = Depends(web_admin),
    active: bool = Form(...),
) -> Response:
    async def call(conn: Conn) -> None:
        if user_id == user.id and not active:
            raise accounts.AccountError(
                Text("you cannot deactivate yourself; ask another administrator")
            )
        await accounts.set_active(conn, user_id=user_id, active=active)

    return await _act(request, user, "users", "user-active", call)


@router.post("/users/{user_id}/password", dependencies=HOLDS)
async def reset_password(
    request: Request,
    user_id: UUID,
    user: CurrentUser = Depends(web_admin),
    password: str = Form("", max_length=1024),
) -> Response:
    """Set a new password and sign the user out everywhere (sessions revoked)."""

    async def call(conn: Conn) -> None:
        await sessions.reset_password(conn, user_id=user_id, new_password=password)

    return await _act(request, user, "users", "password", call)


# --- agents --------------------------------------------------------------------------------------


@router.get("/agents", response_class=HTMLResponse, dependencies=HOLDS)
async def agents_page(
    request: Request,
    done: str = Query("", max_length=20),
    page: int = Query(1, ge=1, le=10**6),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    """Agents by id, AGENTS_PAGE per page (each row counts its agent's tables)."""
    return await _page(request, user, "agents", done=done, page=page)


@router.post("/agents", dependencies=HOLDS)
async def create_agent(
    request: Request, user: CurrentUser = Depends(web_admin), user_id: str = Form("", max_length=40)
) -> Response:
    """A new agent with its tables, linked to a user if one is chosen."""
    linked = chosen_user(user_id) if user_id.strip() else None

    async def call(conn: Conn) -> None:
        await agents.create_agent(
            conn,
            created_by=user.id,
            user_id=linked,
            fallback_currency=request.app.state.settings.default_currency,
        )

    return await _act(request, user, "agents", "agent-created", call)


@router.post("/agents/{agent_id}/link", dependencies=HOLDS)
async def link_agent(
    request: Request,
    agent_id: int = AgentId,
    user: CurrentUser = Depends(web_admin),
    user_id: str = Form("", max_length=40),
) -> Response:
    """Link the chosen user to the agent, or unlink when none is chosen."""
    linked = chosen_user(user_id) if user_id.strip() else None

    async def call(conn: Conn) -> None:
        if linked is None:
            await agents.unlink_user(conn, agent_id=agent_id)
        else:
            await agents.link_user(conn, agent_id=agent_id, user_id=linked)

    return await _act(request, user, "agents", "agent-linked", call)


@router.post("/agents/{agent_id}/active", dependencies=HOLDS)
async def agent_active(
    request: Request,
    agent_id: int = AgentId,
    user: CurrentUser = Depends(web_admin),
    active: bool = Form(...),
) -> Response:
    async def call(conn: Conn) -> None:
        await agents.set_active(conn, agent_id=agent_id, active=active)

    return await _act(request, user, "agents", "agent-active", call)


# --- WhatsApp configurations ---------------------------------------------------------------------


@router.get("/numbers", response_class=HTMLResponse, dependencies=HOLDS)
async def numbers_page(
    request: Request,
    done: str = Query("", max_length=20),
    page: int = Query(1, ge=1, le=10**6),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    return await _page(request, user, "numbers", done=done, page=page)


@router.post("/numbers", dependencies=HOLDS)
async def save_number(
    request: Request,
    user: CurrentUser = Depends(web_admin),
    user_id: str = Form("", max_length=40),
    whatsapp_number: str = Form("", max_length=128),
    phone_number_id: str = Form("", max_length=128),
    business_account_id: str = Form("", max_length=128),
    access_token: str = Form("", max_length=4096),
    app_secret: str = Form("", max_length=512),
    verify_token: str = Form("", max_length=128),
    messages_per_second: str = Form("", max_length=6),
    is_active: bool = Form(False),
) -> Response:
    """Create or change a user's configuration; empty secret fields keep the stored secrets.
    An error is shown in the form that was sent, with what was typed (secrets excepted)."""
    owner = chosen_user(user_id)
    rate = messages_per_second.strip()
    typed = {
        "user_id": str(owner),
        "whatsapp_number": whatsapp_number,
        "phone_number_id": phone_number_id,
        "business_account_id": business_account_id,
        "verify_token": verify_token,
        "messages_per_second": messages_per_second,
    }
    if rate and not rate.isdigit():
        return await _page(
            request,
            user,
            "numbers",
            status_code=400,
            error=_("messages per second must be a whole number"),
            number_form=typed,
        )

    async def call(conn: Conn) -> None:
        await numbers.configure(
            conn,
            user_id=owner,
            webhook_url=request.app.state.settings.webhook_url,
            whatsapp_number=whatsapp_number.strip() or None,
            phone_number_id=phone_number_id.strip() or None,
            business_account_id=business_account_id.strip() or None,
            access_token=access_token.strip() or None,
            app_secret=app_secret.strip() or None,
            verify_token=verify_token.strip() or None,
            is_active=is_active,
            messages_per_second=int(rate) if rate else None,
        )

    return await _act(request, user, "numbers", "number-saved", call, number_form=typed)


@router.post("/numbers/{config_id}/test", response_class=HTMLResponse)
async def test_number(
    request: Request, config_id: int = ConfigId, user: CurrentUser = Depends(web_admin)
) -> Response:
    """Ask Meta for the number's details (GET /{phone-number-id}) with the stored token; show the answer."""
    async with request.app.state.pool.connection() as conn:
        public = await numbers.get_public(conn, config_id=config_id)
        if public is None:
            raise HTTPException(
                404, detail=str(Text("no WhatsApp configuration with id {id}", id=config_id))
            )
        config = await numbers.get_by_user_id(conn, user_id=public["user_id"])
    assert config is not None
    result: dict[str, Any] = {"config_id": config_id, "details": None, "error": None}
    if not config["phone_number_id"] or not config["access_token"]:
        result["error"] = "set the phone number id and the access token first"
    else:
        try:
            async with client_for(config, request.app.state.settings.graph_api) as client:
                details = await client.phone_number_details()
            result["details"] = {
                k: v for k, v in details.items() if isinstance(v, str | int | float | bool)
            }
            async with request.app.state.pool.connection() as conn:  # it works again
                result["cleared"] = await numbers.clear_attention(conn, config_id=config_id)
        except send_errors.SendError as exc:
            result["error"] = exc.explanation
    return await _page(
        request,
        user,
        "numbers",
        test=result,
        status_code=200 if result["details"] is not None else 502,
    )


# --- webhook journal -----------------------------------------------------------------------------


@router.get("/webhooks", response_class=HTMLResponse, dependencies=HOLDS)
async def webhooks_page(
    request: Request,
    status: str = Query("failed", pattern="^(|received|processed|failed)$"),
    before: int | None = Query(None, ge=1, le=2**63 - 1),
    done: str = Query("", max_length=20),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    return await _page(request, user, "webhooks", done=done, status=status, before=before)


@router.post("/webhooks/{journal_id}/replay", response_class=HTMLResponse, dependencies=HOLDS)
async def replay(
    request: Request,
    journal_id: int = Path(..., ge=1, le=2**63 - 1),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    """Process one journaled webhook again (after fixing what made it fail)."""
    async with request_connection(request) as conn:
        results = await ingest.replay(conn, journal_id=journal_id)
    if not results:
        raise HTTPException(
            404, detail=str(Text("no webhook journal row with id {id}", id=journal_id))
        )
    if results[0]["status"] != "processed":
        return await _page(
            request,
            user,
            "webhooks",
            status="failed",
            status_code=409,
            error=str(
                Text("webhook #{id} still fails: {why}", id=journal_id, why=results[0]["error"])
            ),
        )
    return RedirectResponse("/admin/webhooks?done=replayed", status_code=303)
