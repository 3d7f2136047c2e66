"""Graph API routes about the account rather than messages: debug_token, a phone number's fields,
the WABA's subscribed apps. Their answers follow Meta's (docs/going-live.md shows them)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from wacrm.sandbox import errors
from wacrm.sandbox.state import Number, bearer_token, state_of

router = APIRouter()
MANAGEMENT = "whatsapp_business_management"
MESSAGING = "whatsapp_business_messaging"
DEFAULT_FIELDS = (
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "messaging_limit_tier",
    "id",
)


def phone_number_fields(number: Number, fields: str) -> dict[str, Any]:
    """GET /{phone-number-id}: Meta's default fields, or those asked for with `fields=`."""
    everything: dict[str, Any] = {
        "verified_name": number.verified_name,
        "code_verification_status": "VERIFIED",
        "display_phone_number": number.display_phone_number,
        "quality_rating": number.quality_rating,
        "platform_type": "CLOUD_API" if number.registered else "NOT_APPLICABLE",
        "throughput": {"level": "STANDARD" if number.messages_per_second <= 80 else "HIGH"},
        "messaging_limit_tier": number.messaging_limit_tier,
        "status": number.status if number.registered else "PENDING",
        "name_status": number.name_status,
        "account_mode": "LIVE",
        "is_official_business_account": False,
        "id": number.phone_number_id,
    }
    wanted = [f.strip() for f in fields.split(",") if f.strip()] or list(DEFAULT_FIELDS)
    unknown = [f for f in wanted if f not in everything]
    if unknown:
        raise errors.GraphError(
            100,
            f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type"
            " (WhatsAppBusinessPhoneNumber)",
            type_="OAuthException",
        )
    return {k: everything[k] for k in [*wanted, "id"]}


def _caller(request: Request) -> Number:
    """The number whose token calls (190 for an unknown or expired token)."""
    number = state_of(request).number_for_token(bearer_token(request))
    if number is None:
        raise errors.invalid_token()
    if number.token_expires_at and number.token_expires_at < time.time():
        raise errors.invalid_token(expired=True)
    proof = request.query_params.get("appsecret_proof")
    if proof is not None:
        expected = hmac.new(
            number.app_secret.encode(), number.access_token.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(proof, expected):
            raise errors.GraphError(
                100,
                "Invalid appsecret_proof provided in the API argument",
                type_="GraphMethodException",
            )
    return number


@router.get("/debug_token")
async def debug_token(request: Request) -> Response:
    """What Meta says about `input_token`: its app, type, expiry, scopes and their targets."""
    caller = _caller(request)
    input_token = request.query_params.get("input_token")
    if not input_token:
        raise errors.invalid_parameter("(#100) The parameter input_token is required")
    subject = state_of(request).number_for_token(input_token)
    if subject is None:
        return JSONResponse(
            {
                "data": {
                    "is_valid": False,
                    "error": {
                        "code": 190,
                        "message": "Invalid OAuth access token - Cannot parse access token",
                    },
                    "scopes": [],
                }
            }
        )
    expired = bool(subject.token_expires_at and subject.token_expires_at < time.time())
    data: dict[str, Any] = {
        "app_id": subject.app_id,
        "type": subject.token_type,
        "application": subject.app_name,
        "data_access_expires_at": 0,
        "expires_at": subject.token_expires_at,
        "is_valid": not expired,
        "issued_at": int(time.time()) - 86400,
        "scopes": list(subject.token_scopes),
        "granular_scopes": [
            {"scope": scope, "target_ids": [subject.waba_id]}
            for scope in subject.token_scopes
            if scope in (MANAGEMENT, MESSAGING)
        ],
        "user_id": str(int(caller.app_id) + 7),
    }
    if expired:
        data["error"] = {
            "code": 190,
            "message": "Error validating access token: Session has expired.",
            "subcode": 463,
        }
    return JSONResponse({"data": data})


def _waba_caller(request: Request, waba_id: str) -> Number:
    """The caller, allowed on this WABA (managing its apps needs whatsapp_business_management)."""
    caller = _caller(request)
    if not any(n.waba_id == waba_id for n in state_of(request).numbers.values()):
        raise errors.unknown_object(waba_id, request.method.lower())
    if caller.waba_id != waba_id:
        raise errors.unknown_object(waba_id, request.method.lower())
    if MANAGEMENT not in caller.token_scopes:
        raise errors.missing_permission(MANAGEMENT)
    return caller


@router.get("/{waba_id}/subscribed_apps")
async def subscribed_apps(waba_id: str, request: Request) -> Response:
    _waba_caller(request, waba_id)
    apps = state_of(request).subscribed_apps.get(waba_id, {})
    return JSONResponse(
        {
            "data": [
                {
                    "whatsapp_business_api_data": {
                        "link": f"https://www.facebook.com/games/?app_id={app_id}",
                        "name": name,
                        "id": app_id,
                    }
                }
                for app_id, name in apps.items()
            ]
        }
    )


@router.post("/{waba_id}/subscribed_apps")
async def subscribe(waba_id: str, request: Request) -> Response:
    """Subscribe the token's app to the WABA's webhooks (idempotent, as Meta's)."""
    caller = _waba_caller(request, waba_id)
    state_of(request).subscribed_apps.setdefault(waba_id, {})[caller.app_id] = caller.app_name
    return JSONResponse({"success": True})


@router.delete("/{waba_id}/subscribed_apps")
async def unsubscribe(waba_id: str, request: Request) -> Response:
    caller = _waba_caller(request, waba_id)
    state_of(request).subscribed_apps.get(waba_id, {}).pop(caller.app_id, None)
    return JSONResponse({"success": True})
