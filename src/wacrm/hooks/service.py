"""Outgoing webhooks: endpoints per workspace, signed JSON deliveries, the delivery log, replay.

Events are recorded by the per-agent triggers of migration 0090 (or `emit` for events not tied
to one table) with a pending delivery per listening endpoint; `wacrm.hooks.tasks` delivers them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.errors import AppError
from wacrm.i18n.text import Text
from wacrm.security.crypto import decrypt_secret, encrypt_secret

EVENTS = (
    "message.received",
    "message.status",
    "conversation.updated",
    "order.created",
    "order.status_changed",
    "customer.created",
)
SIGNATURE_HEADER = "X-Wacrm-Signature-256"
MAX_ENDPOINTS = 20  # per workspace


class HookError(AppError):
    """An endpoint cannot be saved or changed as asked (the message says why; 422 unless said)."""

    status = 422


def sign(body: bytes, secret: str) -> str:
    """The signature header value: `sha256=` + HMAC-SHA256 of the raw body, as Meta signs."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def private_address(host: str) -> bool:
    """Whether host names this machine or a non-public network (loopback, private, link-local
    such as the cloud metadata service, shared, reserved, multicast): refused in production."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, private_ok: bool = False) -> str:
    """An HTTPS URL (plain HTTP only to this machine, for local receivers); raise HookError.

    Unless `private_ok` (`settings.private_addresses_allowed`: outside production) an address of
    this machine or of a private network is refused: the CRM must not be a way into them."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise HookError(Text("the URL is not valid"), field="url") from None
    if parts.scheme not in ("https", "http") or not host:
        raise HookError(Text("give a full URL starting with https://"), field="url")
    if not private_ok and private_address(host):
        raise HookError(
            Text(
                "endpoints must be on the internet: addresses of this machine or of a private"
                " network are refused"
            ),
            field="url",
        )
    if parts.scheme == "http" and not _loopback(host):
        raise HookError(
            Text("endpoints must use https:// (plain http is allowed only for localhost)"),
            field="url",
        )
    if parts.username or parts.password:
        raise HookError(Text("put no user name or password in the URL"), field="url")
    if len(url) > 2000:
        raise HookError(Text("the URL is too long (2,000 characters at most)"), field="url")
    return url


def check_events(events: list[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise HookError(Text("unknown event {event}", event=repr(unknown[0])), field="events")
    if not chosen:
        raise HookError(Text("choose at least one event"), field="events")
    return chosen


async def create_endpoint(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    url: str,
    events: list[str],
    description: str | None = None,
    created_by: UUID | None = None,
    private_ok: bool = False,
) -> dict[str, Any]:
    """A new endpoint with a fresh signing secret (returned once in `secret`)."""
    url = check_url(url, private_ok=private_ok)
    chosen = check_events(events)
    cur = await conn.execute(
        "SELECT count(*) AS n FROM hook_endpoints WHERE agent_id = %s", (agent_id,)
    )
    row = await cur.fetchone()
    if row and row["n"] >= MAX_ENDPOINTS:
        raise HookError(
            Text("a workspace has at most {max} endpoints; remove one first", max=MAX_ENDPOINTS)
        )
    cur = await conn.execute("SELECT 1 FROM agents WHERE id = %s", (agent_id,))
    if await cur.fetchone() is None:
        raise HookError(
            Text("no workspace (agent) {agent_id}", agent_id=agent_id), status=404, field="agent_id"
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    cur = await conn.execute(
        """INSERT INTO hook_endpoints (agent_id, url, description, events, secret, created_by)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING *""",
        (
            agent_id,
            url,
            (description or "").strip()[:200] or None,
            chosen,
            encrypt_secret(secret),
            created_by,
        ),
    )
    created = await cur.fetchone()
    assert created is not None
    return {**public(created), "secret": secret}


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "secret"}


async def get_endpoint(conn: AsyncConnection[Any], endpoint_id: int) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT * FROM hook_endpoints WHERE id = %s", (endpoint_id,))
    row = await cur.fetchone()
    return dict(row) if row else None


def plain_secret(endpoint: dict[str, Any]) -> str:
    return decrypt_secret(endpoint["secret"])


async def list_endpoints(
    conn: AsyncConnection[Any], *, agent_id: int | None = None
) -> list[dict[str, Any]]:
    """Endpoints (with the workspace's name and delivery counts of the last day)."""
    cur = await conn.execute(
        """SELECT e.*, coalesce(u.name, 'Agent ' || a.id) AS workspace,
             (SELECT count(*) FROM hook_deliveries d WHERE d.endpoint_id = e.id
                AND d.state IN ('pending', 'queued', 'sending', 'retry')) AS waiting,
             (SELECT count(*) FROM hook_deliveries d WHERE d.endpoint_id = e.id
                AND d.state = 'failed') AS failed
           FROM hook_endpoints e JOIN agents a ON a.id = e.agent_id
           LEFT JOIN users u ON u.id = a.user_id
           WHERE %(agent)s::bigint IS NULL OR e.agent_id = %(agent)s
           ORDER BY e.agent_id, e.id""",
        {"agent": agent_id},
    )
    return [public(r) for r in await cur.fetchall()]


async def update_endpoint(
    conn: AsyncConnection[Any],
    *,
    endpoint_id: int,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
    private_ok: bool = False,
) -> dict[str, Any]:
    """Change an endpoint; enabling it again clears the failure streak and the reason."""
    endpoint = await get_endpoint(conn, endpoint_id)
    if endpoint is None:
        raise HookError(Text("no endpoint {endpoint_id}", endpoint_id=endpoint_id), status=404)
    cur = await conn.execute(
        """UPDATE hook_endpoints SET url = %(url)s, events = %(events)s,
             enabled = %(enabled)s, updated_at = now(),
             disabled_reason = CASE WHEN %(enabled)s THEN NULL
               ELSE coalesce(disabled_reason, 'disabled by an administrator') END,
             disabled_at = CASE WHEN %(enabled)s THEN NULL ELSE coalesce(disabled_at, now()) END,
             failure_streak = CASE WHEN %(enabled)s AND NOT enabled THEN 0 ELSE failure_streak END,
             failing_since = CASE WHEN %(enabled)s AND NOT enabled THEN NULL ELSE failing_since END
           WHERE id = %(id)s RETURNING *""",
        {
            "id": endpoint_id,
            "url": check_url(url, private_ok=private_ok) if url is not None else endpoint["url"],
            "events": check_events(events) if events is not None else endpoint["events"],
            "enabled": endpoint["enabled"] if enabled is None else enabled,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return public(row)


async def delete_endpoint(conn: AsyncConnection[Any], *, endpoint_id: int) -> None:
    cur = await conn.execute(
        "DELETE FROM hook_endpoints WHERE id = %s RETURNING id", (endpoint_id,)
    )
    if await cur.fetchone() is None:
        raise HookError(Text("no endpoint {endpoint_id}", endpoint_id=endpoint_id), status=404)


async def emit(
    conn: AsyncConnection[Any], *, agent_id: int, event: str, data: dict[str, Any]
) -> None:
    """Record one event for the agent's listening endpoints, in the caller's transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    await conn.execute(
        "SELECT wacrm_hook_emit(%s, %s, %s::jsonb)",
        (agent_id, event, json.dumps([data], default=str)),
    )


async def deliveries(
    conn: AsyncConnection[Any], *, endpoint_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest deliveries of an endpoint with their event, for the delivery log."""
    cur = await conn.execute(
        """SELECT d.*, ev.event, ev.created_at AS event_at FROM hook_deliveries d
           JOIN hook_events ev ON ev.id = d.event_id
           WHERE d.endpoint_id = %s ORDER BY d.id DESC LIMIT %s""",
        (endpoint_id, limit),
    )
    return [dict(r) for r in await cur.fetchall()]


async def replay(conn: AsyncConnection[Any], *, delivery_id: int) -> dict[str, Any]:
    """Deliver an event again (the same event id, so the receiver may recognise it)."""
    cur = await conn.execute(
        """INSERT INTO hook_deliveries (endpoint_id, event_id)
           SELECT d.endpoint_id, d.event_id FROM hook_deliveries d
           JOIN hook_endpoints e ON e.id = d.endpoint_id
           WHERE d.id = %s AND e.enabled RETURNING *""",
        (delivery_id,),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute("SELECT 1 FROM hook_deliveries WHERE id = %s", (delivery_id,))
        if await cur.fetchone() is None:
            raise HookError(Text("no delivery {delivery_id}", delivery_id=delivery_id), status=404)
        raise HookError(Text("the endpoint is disabled: enable it first, then replay"), status=409)
    return dict(row)


def envelope(event: dict[str, Any]) -> bytes:
    """The JSON body of a delivery: the event id, its type, when it happened, the workspace, data."""
    body = {
        "id": str(event["event_id"]),
        "event": event["event"],
        "created_at": event["event_at"].isoformat(),
        "agent_id": event["agent_id"],
        "data": event["data"],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()
