"""The chat page: thread (live, older pages on scroll), composer, and the customer panel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope
from wacrm.conversations import cursors
from wacrm.conversations import service as conversations
from wacrm.customers import service as customers
from wacrm.i18n import gettext as _
from wacrm.orders import service as orders
from wacrm.outbound import service as outbound
from wacrm.outbound.schemas import TemplateContent, TextContent
from wacrm.web import team
from wacrm.web.chat_parts import (
    THREAD,
    chronological,
    first_error,
    media_content,
    order_lines,
    panel_context,
)
from wacrm.web.composer import composer_context, template_header, template_params
from wacrm.web.deps import web_workspace
from wacrm.web.inbox import live_url
from wacrm.web.templating import render

router = APIRouter(include_in_schema=False)
CustomerId = Path(..., ge=1, le=2**31 - 1)
PAGE = 40


async def _conversation(conn: AsyncConnection[Any], scope: AgentScope, customer_id: int) -> dict:
    return await conversations.conversation(conn, tables=scope.tables, customer_id=customer_id)


@router.get("/chat/{customer_id}", response_class=HTMLResponse)
async def chat_page(
    request: Request, customer_id: int = CustomerId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    conn = scope.db
    conv = await _conversation(conn, scope, customer_id)
    page = await conversations.chat(conn, tables=scope.tables, customer_id=customer_id, limit=PAGE)
    composer = await composer_context(conn, scope, conv, request.app.state.settings.graph_api)
    panel = await panel_context(conn, scope, customer_id)
    bar = await team.bar_context(conn, scope, customer_id)
    items = chronological(page["items"])
    anchor = cursors.encode(items[0]["timestamp"], items[0]["id"]) if items else ""
    since = items[0]["timestamp"] if items and page["next_cursor"] else None
    items = await team.timeline(conn, scope, customer_id, items, since=since)
    return await render(
        request,
        "chat.html",
        user=scope.user,
        scope=scope,
        nav="inbox",
        live_url=live_url(scope),
        messages=items,
        anchor=anchor,
        older_cursor=page["next_cursor"],
        customer_id=customer_id,
        note_error=None,
        note_text="",
        **THREAD,
        **composer,
        **panel,
        **bar,
    )


@router.get("/chat/{customer_id}/recent", response_class=HTMLResponse)
async def recent(
    request: Request,
    customer_id: int = CustomerId,
    anchor: str = Query("", max_length=200),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    """The messages from the anchor (the oldest shown at page load) on: merged into the thread."""
    after = cursors.decode(anchor) if anchor else None
    conn = scope.db
    await _conversation(conn, scope, customer_id)
    page = await conversations.chat(
        conn, tables=scope.tables, customer_id=customer_id, limit=conversations.MAX_PAGE
    )
    items = chronological(page["items"])
    if after is not None and after[0] is not None:
        items = [m for m in items if (m["timestamp"], m["id"]) >= after]
    since = after[0] if after is not None else None
    items = await team.timeline(conn, scope, customer_id, items, since=since)
    return await render(
        request,
        "partials/messages.html",
        messages=items,
        scope=scope,
        customer_id=customer_id,
        **THREAD,
    )


@router.post("/chat/{customer_id}/read")
async def mark_read(
    request: Request, customer_id: int = CustomerId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    """The page says the agent sees the chat (visible, focused): mark it read, send the receipt.

    Never on a GET: a GET is any site's link away (SameSite=Lax carries the cookie)."""
    conn = scope.db
    conv = await _conversation(conn, scope, customer_id)
    if conv["unread_count"]:
        await conversations.mark_read(
            conn, tables=scope.tables, agent_id=scope.agent_id, customer_id=customer_id
        )
    return Response(status_code=204)


@router.get("/chat/{customer_id}/older", response_class=HTMLResponse)
async def older(
    request: Request,
    customer_id: int = CustomerId,
    cursor: str = Query(..., min_length=1, max_length=200),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    conn = scope.db
    page = await conversations.chat(
        conn, tables=scope.tables, customer_id=customer_id, limit=PAGE, cursor=cursor
    )
    items = chronological(page["items"])
    since = items[0]["timestamp"] if items and page["next_cursor"] else None
    until = cursors.decode(cursor)[0]
    items = await team.timeline(conn, scope, customer_id, items, since=since, until=until)
    return await render(
        request,
        "partials/older.html",
        messages=items,
        older_cursor=page["next_cursor"],
        c={"customer_id": customer_id},
        scope=scope,
        customer_id=customer_id,
        **THREAD,
    )


@router.get("/chat/{customer_id}/composer", response_class=HTMLResponse)
async def composer(
    request: Request,
    customer_id: int = CustomerId,
    mode: str = Query("", pattern="^(|text|template)$"),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    """The composer, or 204 (nothing to swap) when it is already in the right mode."""
    conn = scope.db
    conv = await _conversation(conn, scope, customer_id)
    want = "text" if conv["window"]["state"] == "open" else "template"
    if mode == want:
        return Response(status_code=204)
    context = await composer_context(conn, scope, conv, request.app.state.settings.graph_api)
    return await render(request, "partials/composer.html", scope=scope, **context)


@router.post("/chat/{customer_id}/send", response_class=HTMLResponse)
async def send(
    request: Request,
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(web_workspace),
    text: str = Form("", max_length=4096),
    caption: str = Form("", max_length=1024),
    reply_to: str = Form("", max_length=20),
    template: str = Form("", max_length=600),
    params: list[str] = Form([]),
    file: UploadFile | None = File(None),
) -> Response:
    """Send text, a file with a caption, or a template; answers with a fresh composer."""
    reply = int(reply_to) if reply_to.isdigit() else None
    conn = scope.db
    await _conversation(conn, scope, customer_id)
    error, status, field = None, 200, "text"
    try:
        content: Any
        if template:
            field = "template"
            name, _sep, language = template.partition("|")
            content = TemplateContent(
                name=name,
                language=language or "en_US",
                body_params=template_params(await request.form(), template, params),
                header_media=template_header(await request.form(), template),
                reply_to=reply,
            )
        elif file is not None and file.filename:
            field = "file"
            content = await media_content(conn, scope, file, caption, reply)
        elif text.strip():
            content = TextContent(body=text, reply_to=reply)
        else:
            raise ValueError(_("the message is empty: write a message, or attach a file"))
        await outbound.queue_message(
            conn,
            tables=scope.tables,
            agent_id=scope.agent_id,
            customer_id=customer_id,
            content=content,
            sent_by=scope.user.id,
        )
    except outbound.WindowClosedError:
        error, status, field = (
            (
                _(
                    "the 24-hour window is closed: the customer has to write first, "
                    "or send an approved template"
                )
            ),
            409,
            "composer",
        )
    except outbound.OutboundError as exc:
        error, status = str(exc), exc.status
    except ValueError as exc:  # pydantic's ValidationError is one too
        error, status = first_error(exc), 400
    conv = await conversations.conversation(conn, tables=scope.tables, customer_id=customer_id)
    context = await composer_context(
        conn, scope, conv, request.app.state.settings.graph_api, error=error, error_field=field
    )
    context.update(text="" if error is None else text)
    if error is not None and template:  # the chosen template and what was typed stay
        form = await request.form()
        context.update(
            chosen_template=template,
            typed_params={k[3:]: str(v) for k, v in form.items() if k.startswith("tp:")},
            typed_header=str(form.get(f"th:{template}") or ""),
        )
    headers = {"HX-Trigger": "live-chat"} if error is None else None
    return await render(
        request,
        "partials/composer.html",
        scope=scope,
        status_code=status,
        headers=headers,
        **context,
    )


@router.post("/chat/{customer_id}/retry/{message_id}")
async def retry(
    request: Request,
    customer_id: int = CustomerId,
    message_id: int = Path(..., ge=1, le=2**63 - 1),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    conn = scope.db
    await _conversation(conn, scope, customer_id)
    await outbound.retry_message(conn, tables=scope.tables, message_id=message_id)
    return Response(status_code=204, headers={"HX-Trigger": "live-chat"})


@router.get("/chat/{customer_id}/panel", response_class=HTMLResponse)
async def panel(
    request: Request, customer_id: int = CustomerId, scope: AgentScope = Depends(web_workspace)
) -> Response:
    conn = scope.db
    context = await panel_context(conn, scope, customer_id)
    return await render(request, "partials/panel.html", scope=scope, **context)


@router.post("/chat/{customer_id}/name", response_class=HTMLResponse)
async def rename(
    request: Request,
    customer_id: int = CustomerId,
    name: str = Form("", max_length=400),
    scope: AgentScope = Depends(web_workspace),
) -> Response:
    error, status = None, 200
    conn = scope.db
    try:
        if (
            await customers.rename_customer(
                conn, tables=scope.tables, customer_id=customer_id, name=name
            )
            is None
        ):
            raise conversations.ConversationNotFoundError(customer_id)
    except customers.CustomerError as exc:
        error, status = str(exc), 400
    context = await panel_context(
        conn, scope, customer_id, panel_error=error, panel_form="name", name_typed=name
    )
    return await render(request, "partials/panel.html", scope=scope, status_code=status, **context)


@router.post("/chat/{customer_id}/orders", response_class=HTMLResponse)
async def new_order(
    request: Request,
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(web_workspace),
    item_name: list[str] = Form([]),
    item_quantity: list[str] = Form([]),
    item_price: list[str] = Form([]),
    notes: str = Form("", max_length=2000),
) -> Response:
    """Create an order for the customer from the chat (lines with an empty name are skipped)."""
    error, status = None, 200
    conn = scope.db
    await _conversation(conn, scope, customer_id)
    try:
        items = order_lines(item_name, item_quantity, item_price)
        await orders.create_order(
            conn,
            tables=scope.tables,
            customer_id=customer_id,
            items=items,
            notes=notes.strip() or None,
            created_by=scope.user.id,
        )
    except ValueError as exc:
        error, status = str(exc), getattr(exc, "status", 400)
    context = await panel_context(
        conn,
        scope,
        customer_id,
        panel_error=error,
        panel_form="order",
        typed={"names": item_name, "quantities": item_quantity, "prices": item_price}
        if error
        else None,
        notes_typed=notes if error else "",
    )
    return await render(request, "partials/panel.html", scope=scope, status_code=status, **context)
