"""The checks the CRM makes itself of a connected number, each with a result a person can act on.

Token (GET /debug_token, with `appsecret_proof` so that the app secret is checked too), the
number's registration and quality/throughput tier (GET /{phone-number-id}), the app's
subscription on the WhatsApp Business Account (GET, and POST when asked, /{waba-id}/subscribed_apps),
the public callback URL, and a test message. docs/going-live.md explains every outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from wacrm.config import GraphApi
from wacrm.outbound import errors as send_errors
from wacrm.outbound.client import WhatsAppClient

Status = Literal["ok", "warning", "problem"]
MANAGEMENT = "whatsapp_business_management"
MESSAGING = "whatsapp_business_messaging"
NUMBER_FIELDS = (
    "verified_name",
    "display_phone_number",
    "quality_rating",
    "messaging_limit_tier",
    "throughput",
    "platform_type",
    "status",
    "name_status",
    "code_verification_status",
)
TIERS = {
    "TIER_250": "250",
    "TIER_1K": "1,000",
    "TIER_10K": "10,000",
    "TIER_100K": "100,000",
    "TIER_UNLIMITED": "unlimited",
}
TOKEN_FIX = (
    "create a permanent token: Meta Business Suite → Business settings → Users → System users →"
    f" Generate new token, with {MANAGEMENT} and {MESSAGING}, and paste it into this number"
)
# Meta's errors a check can meet, in words (the rest: outbound.errors' explanations)
MEANINGS = {
    100: "Meta does not know this id, or the token may not see it: check the id and the token's"
    " business account",
    131030: "the number is in test mode and the recipient is not among its allowed numbers: add"
    " it in the app's WhatsApp → API Setup → To, or finish the number's registration",
    131031: "the business account is locked (policy or payment): see WhatsApp Manager",
    133010: "the number is not registered on the Cloud API: register it (WhatsApp Manager, or"
    " POST /{phone-number-id}/register with its two-step PIN)",
    200: f"the token lacks a permission: give the system user {MANAGEMENT} and {MESSAGING}"
    " on this business account and generate a new token",
    368: "the account is temporarily blocked for policy violations: see WhatsApp Manager",
}


@dataclass
class Check:
    """One check's outcome: `detail` says what was found, `fix` what to do (None when fine)."""

    key: str
    title: str
    status: Status
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worst(found: list[Check]) -> Status:
    """The overall outcome: a problem if any, else a warning if any, else ok."""
    if any(c.status == "problem" for c in found):
        return "problem"
    return "warning" if any(c.status == "warning" for c in found) else "ok"


def explain(exc: send_errors.SendError) -> str:
    meaning = MEANINGS.get(exc.code or -1)
    if meaning is None:
        return exc.explanation
    return f"{meaning} (Meta error {exc.code}: {exc.details or exc.title})"


def appsecret_proof(token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the token with the app secret: Meta refuses a call whose proof is wrong."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


async def check_token(client: WhatsAppClient, config: dict[str, Any]) -> Check:
    title = "Access token and app secret"
    try:
        data = await client.debug_token(
            appsecret_proof(client.wa.token, config["app_secret"])
            if config.get("app_secret")
            else None
        )
    except send_errors.SendError as exc:
        if exc.code == 100 and "appsecret_proof" in (exc.details or exc.title or ""):
            return Check(
                "token",
                title,
                "problem",
                "the app secret does not belong to the token's app (Meta refused the"
                " appsecret_proof), so webhooks would fail their signature check",
                "copy the App secret from the app's App settings → Basic (Show) into this number",
            )
        return Check("token", title, "problem", explain(exc), TOKEN_FIX)
    if not data.get("is_valid"):
        reason = (data.get("error") or {}).get("message", "Meta says the token is not valid")
        return Check("token", title, "problem", reason, TOKEN_FIX)
    scopes = set(data.get("scopes") or [])
    missing = [s for s in (MANAGEMENT, MESSAGING) if s not in scopes]
    if missing:
        return Check("token", title, "problem", f"the token lacks {', '.join(missing)}", TOKEN_FIX)
    waba = config.get("business_account_id")
    targets = {t for g in data.get("granular_scopes") or [] for t in g.get("target_ids") or []}
    if waba and targets and waba not in targets:
        return Check(
            "token",
            title,
            "problem",
            f"the token's permissions cover business account(s) {', '.join(sorted(targets))},"
            f" not {waba}",
            "assign the system user to this WhatsApp account (Business settings → Accounts →"
            " WhatsApp accounts → Add people) or correct the business account id",
        )
    expires = int(data.get("expires_at") or 0)
    kind = str(data.get("type") or "token").replace("_", " ").lower()
    if expires:
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return Check(
            "token",
            title,
            "warning",
            f"a valid {kind} token of the app {data.get('application')}, but it expires {when}",
            TOKEN_FIX,
        )
    return Check(
        "token",
        title,
        "ok",
        f"a valid {kind} token of the app {data.get('application')}, never expires, with"
        f" {MANAGEMENT} and {MESSAGING}",
    )


async def check_number(client: WhatsAppClient, config: dict[str, Any]) -> list[Check]:
    """Registration, then quality, messaging limit and throughput."""
    try:
        details = await client.phone_number_details(NUMBER_FIELDS)
    except send_errors.SendError as exc:
        problem = Check("registration", "Registration", "problem", explain(exc))
        return [problem]
    name = details.get("verified_name") or "?"
    shown = details.get("display_phone_number") or "?"
    platform, status = details.get("platform_type"), details.get("status")
    checks = []
    if platform != "CLOUD_API" or status not in ("CONNECTED", None):
        checks.append(
            Check(
                "registration",
                "Registration",
                "problem",
                f"{shown} ({name}) is not registered on the Cloud API (status {status},"
                f" platform {platform})"
                if platform != "CLOUD_API"
                else f"{shown} ({name}) is {status}: Meta does not let it send",
                MEANINGS[133010] if platform != "CLOUD_API" else STATUS_FIX,
            )
        )
    else:
        checks.append(Check("registration", "Registration", "ok", f"{shown} ({name}) is connected"))
    configured = "".join(ch for ch in str(config.get("whatsapp_number") or "") if ch.isdigit())
    if configured and configured != "".join(ch for ch in shown if ch.isdigit()):
        checks.append(
            Check(
                "display_number",
                "Phone number",
                "warning",
                f"Meta shows {shown} for this id, the CRM has {config.get('whatsapp_number')}",
                "correct the WhatsApp number (or the phone number id) of this configuration",
            )
        )
    checks.append(_quality(details, int(config.get("messages_per_second") or 0)))
    return checks


def _quality(details: dict[str, Any], rate: int) -> Check:
    quality = details.get("quality_rating") or "UNKNOWN"
    tier = str(details.get("messaging_limit_tier") or "")
    level = str((details.get("throughput") or {}).get("level") or "STANDARD")
    detail = (
        f"quality {quality}; messaging limit {TIERS.get(tier, tier or '?')} customers per 24 h"
        f" ({tier or 'unknown'}); throughput {level}"
        f" ({'up to 1,000' if level == 'HIGH' else '80'} messages per second)"
    )
    if quality == "RED":
        return Check("quality", "Quality and limits", "problem", detail, _QUALITY_FIX)
    if quality == "YELLOW":
        return Check("quality", "Quality and limits", "warning", detail, _QUALITY_FIX)
    if level != "HIGH" and rate > 80:
        return Check(
            "quality",
            "Quality and limits",
            "warning",
            f"{detail}; this number is set to {rate} per second",
            "set messages per second to 80 or less: Meta answers 130429 above its throughput",
        )
    return Check("quality", "Quality and limits", "ok", detail)


STATUS_FIX = (
    "open WhatsApp Manager → Phone numbers: it says why (a policy flag, a restriction, a"
    " display name to approve) and how to appeal"
)
_QUALITY_FIX = (
    "customers are blocking or reporting this number: send fewer, wanted messages; Meta lowers"
    " the messaging limit while the quality stays low"
)


async def check_subscription(client: WhatsAppClient, *, subscribe: bool) -> Check:
    """The app must be subscribed on the business account or Meta sends no webhooks."""
    title = "Webhooks subscription"
    if not client.waba_id:
        return Check(
            "subscription",
            title,
            "problem",
            "no WhatsApp Business Account id is set",
            "copy it from the app's WhatsApp → API Setup (WhatsApp Business Account ID)",
        )
    try:
        apps = await client.subscribed_apps()
        if not apps and subscribe:
            await client.subscribe_app()
            apps = await client.subscribed_apps()
            if apps:
                names = ", ".join(str(a.get("name") or a.get("id")) for a in apps)
                return Check("subscription", title, "ok", f"subscribed the app {names} just now")
    except send_errors.SendError as exc:
        return Check("subscription", title, "problem", explain(exc))
    if not apps:
        return Check(
            "subscription",
            title,
            "problem",
            f"no app is subscribed to business account {client.waba_id}: Meta sends it no webhooks",
            "run the checks here (they subscribe the app), or POST /{waba-id}/subscribed_apps",
        )
    names = ", ".join(str(a.get("name") or a.get("id")) for a in apps)
    return Check("subscription", title, "ok", f"the app {names} receives this account's webhooks")


async def check_callback(public_url: str, *, has_verify_token: bool) -> Check:
    """Meta calls only a public https URL with a valid certificate."""
    title = "Callback URL"
    callback = f"{public_url.rstrip('/')}/webhooks/whatsapp"
    parts = urlsplit(public_url)
    fix = (
        "run the CRM behind a TLS proxy on a public name (deploy/, docs/going-live.md) and set"
        " WACRM_PUBLIC_URL to that https address"
    )
    if parts.scheme != "https":
        return Check("callback", title, "problem", f"{callback} is not https: Meta refuses it", fix)
    host = parts.hostname or ""
    private = await _private_reason(host)
    if private:
        return Check(
            "callback", title, "problem", f"{callback}: {private}; Meta cannot reach it", fix
        )
    if not has_verify_token:
        return Check(
            "callback",
            title,
            "problem",
            f"{callback} is public, but this number has no verify token",
            "set a verify token (the connect page generates one) and paste the same into Meta",
        )
    return Check("callback", title, "ok", f"{callback} is a public https address")


async def _private_reason(host: str) -> str | None:
    if host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal")):
        return f"{host or 'no host'} is a local name"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM), 3
            )
        except (OSError, TimeoutError):
            return None  # unknown here: Meta may still resolve it (a split-horizon DNS)
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if addresses and not any(a.is_global for a in addresses):
        return f"{host} is a private address ({', '.join(sorted({str(a) for a in addresses}))})"
    return None


async def send_test_message(client: WhatsAppClient, to: str) -> Check:
    """Meta's `hello_world` template (every new business account has it) to `to`."""
    digits = "".join(ch for ch in to if ch.isdigit())
    title = "Test message"
    if not 7 <= len(digits) <= 15:
        return Check(
            "test_message",
            title,
            "problem",
            "give your own WhatsApp number in international form, e.g. +49 151 23456789",
        )
    try:
        wamid = await client.send_template(digits, name="hello_world", language="en_US")
    except send_errors.SendError as exc:
        return Check("test_message", title, "problem", explain(exc))
    return Check(
        "test_message",
        title,
        "ok",
        f"Meta accepted the message to +{digits} ({wamid}); it should arrive on that phone"
        " within a minute",
    )


async def run_checks(
    config: dict[str, Any], *, public_url: str, subscribe: bool, graph: GraphApi
) -> list[Check]:
    """Every check of one decrypted configuration (numbers.service.get_by_user_id), asking Meta
    at `graph` (`settings.graph_api`)."""
    callback = await check_callback(public_url, has_verify_token=bool(config.get("verify_token")))
    if not config.get("phone_number_id") or not config.get("access_token"):
        missing = Check(
            "token",
            "Access token and app secret",
            "problem",
            "the phone number id and the access token are not set",
            "fill in step 2 and 3 of this page",
        )
        return [missing, callback]
    client = WhatsAppClient(
        phone_id=config["phone_number_id"],
        token=config["access_token"],
        graph=graph,
        waba_id=config.get("business_account_id"),
        timeout=15.0,
    )
    try:
        token = await check_token(client, config)
        number = await check_number(client, config)
        subscription = await check_subscription(client, subscribe=subscribe)
    finally:
        await client.aclose()
    return [token, *number, subscription, callback]
