"""The admin page "Connect a WhatsApp number": Meta's steps, the values to paste, and the checks.

GET shows the guide (a freshly generated verify token is only shown, stored when saved); POSTs
save the values, run the checks (which subscribe the app on the business account), and send the
admin a test message. Results are rendered in the POST's answer, nothing is kept.
"""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm.accounts import service as accounts
from wacrm.accounts.deps import CurrentUser
from wacrm.i18n.text import Text
from wacrm.numbers import checks
from wacrm.numbers import service as numbers
from wacrm.outbound.client import WhatsAppClient
from wacrm.web.admin import ConfigId, web_admin
from wacrm.web.callback import callback_url, public_base
from wacrm.web.templating import render

# Deliberately short connections (no db_conn): these pages wait on Meta and on a request to the
# callback URL for seconds, and hold no pooled connection meanwhile; each is given back before
# the next is taken (and before render), so a request never holds two.
router = APIRouter(prefix="/admin/connect", include_in_schema=False)
FIELDS = (
    "user_id",
    "whatsapp_number",
    "phone_number_id",
    "business_account_id",
    "access_token",
    "app_secret",
    "verify_token",
)
TEMPLATE_FIELDS = (
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
)


async def _show(
    request: Request,
    user: CurrentUser,
    *,
    config_id: int | None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    settings = request.app.state.settings
    async with request.app.state.pool.connection() as conn:
        configs = await numbers.list_configurations(conn)
        chosen = next((c for c in configs if c["id"] == config_id), None)
        full = await numbers.get_by_user_id(conn, user_id=chosen["user_id"]) if chosen else None
        users = await accounts.list_users(conn)
    verify_token = (full or {}).get("verify_token") or extra.pop("verify_token", None)
    base, _ = public_base(settings, request)  # WACRM_PUBLIC_URL, else the serving address
    callback = await checks.check_callback(base, has_verify_token=True)
    return await render(
        request,
        "admin_connect.html",
        user=user,
        nav="admin",
        status_code=status_code,
        section="connect",
        configs=configs,
        chosen=chosen,
        users=users,
        webhook_url=callback_url(request).url,
        callback=callback,
        verify_token=verify_token or secrets.token_urlsafe(24),
        verify_token_saved=bool((full or {}).get("verify_token")),
        template_fields=TEMPLATE_FIELDS,
        **{"error": None, "message": None, "errors": {}, "form": {}, "results": None}
        | {"saved": False, "test_result": None, "test_to": ""}
        | extra,
    )


@router.get("", response_class=HTMLResponse)
async def connect_page(
    request: Request,
    config: int | None = Query(None, ge=1, le=2**63 - 1),
    saved: bool = Query(False),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    return await _show(request, user, config_id=config, saved=saved)


@router.post("")
async def save(
    request: Request,
    user: CurrentUser = Depends(web_admin),
    config_id: str = Form("", max_length=20),
    user_id: str = Form("", max_length=40),
    whatsapp_number: str = Form("", max_length=128),
    phone_number_id: str = Form("", max_length=128),
    business_account_id: str = Form("", max_length=128),
    access_token: str = Form("", max_length=4096),
    app_secret: str = Form("", max_length=512),
    verify_token: str = Form("", max_length=128),
) -> Response:
    """Create or change the number's values; empty secret fields keep the stored ones."""
    chosen = int(config_id) if config_id.isdigit() else None
    values = {
        "whatsapp_number": whatsapp_number.strip() or None,
        "phone_number_id": phone_number_id.strip() or None,
        "business_account_id": business_account_id.strip() or None,
        "access_token": access_token.strip() or None,
        "app_secret": app_secret.strip() or None,
        "verify_token": verify_token.strip() or None,
    }
    try:
        owner = UUID(user_id.strip())
    except ValueError:
        return await _show(
            request,
            user,
            config_id=chosen,
            status_code=400,
            errors={"user_id": "choose the user who answers this number"},
            form=values,
            verify_token=values["verify_token"],
        )
    async with request.app.state.pool.connection() as conn:
        try:
            row = await numbers.configure(
                conn,
                user_id=owner,
                webhook_url=request.app.state.settings.webhook_url,
                is_active=True,
                whatsapp_number=values["whatsapp_number"],
                phone_number_id=values["phone_number_id"],
                business_account_id=values["business_account_id"],
                access_token=values["access_token"],
                app_secret=values["app_secret"],
                verify_token=values["verify_token"],
            )
        except numbers.NumberError as exc:
            return await _show(
                request,
                user,
                config_id=chosen,
                status_code=exc.status,
                errors={exc.field if exc.field in FIELDS else "form": str(exc)},
                form=values,
                verify_token=values["verify_token"],
            )
    return RedirectResponse(f"/admin/connect?config={row['id']}&saved=true", status_code=303)


async def _decrypted(request: Request, config_id: int) -> dict[str, Any]:
    async with request.app.state.pool.connection() as conn:
        public = await numbers.get_public(conn, config_id=config_id)
        if public is None:
            raise HTTPException(
                404, detail=str(Text("no WhatsApp configuration with id {id}", id=config_id))
            )
        config = await numbers.get_by_user_id(conn, user_id=public["user_id"])
    assert config is not None
    return config


@router.post("/{config_id}/checks", response_class=HTMLResponse)
async def run_checks(
    request: Request, config_id: int = ConfigId, user: CurrentUser = Depends(web_admin)
) -> Response:
    """Every check; subscribing the app on the business account when it is not yet."""
    config = await _decrypted(request, config_id)
    results = await checks.run_checks(
        config,
        public_url=public_base(request.app.state.settings, request)[0],
        subscribe=True,
        graph=request.app.state.settings.graph_api,
    )
    return await _show(request, user, config_id=config_id, results=results)


@router.post("/{config_id}/test-message", response_class=HTMLResponse)
async def test_message(
    request: Request,
    config_id: int = ConfigId,
    to: str = Form("", max_length=40),
    user: CurrentUser = Depends(web_admin),
) -> Response:
    """Meta's hello_world template to the admin's own phone."""
    config = await _decrypted(request, config_id)
    digits = "".join(ch for ch in to if ch.isdigit())
    problem = None
    if not 7 <= len(digits) <= 15:
        problem = {
            "to": "give your own WhatsApp number in international form, e.g. +49 151 2345678"
        }
    elif not config.get("phone_number_id") or not config.get("access_token"):
        problem = {"form": "set the phone number id and the access token first (step 5)"}
    if problem:
        return await _show(
            request, user, config_id=config_id, status_code=400, errors=problem, test_to=to
        )
    client = WhatsAppClient(
        phone_id=config["phone_number_id"],
        token=config["access_token"],
        graph=request.app.state.settings.graph_api,
        timeout=15.0,
    )
    try:
        result = await checks.send_test_message(client, digits)
    finally:
        await client.aclose()
    return await _show(
        request,
        user,
        config_id=config_id,
        test_result=result,
        test_to=to,
        status_code=200 if result.status == "ok" else 502,
    )
