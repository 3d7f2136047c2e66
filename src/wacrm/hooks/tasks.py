"""Delivering outgoing webhooks: due deliveries become jobs; a job POSTs one signed event.

At least once: a delivery is retried with exponential back-off (30 s doubling, at most an hour
apart) until it is answered with a 2xx or 24 hours have passed since its event; a delivery whose
job died is claimed again when its lease ends. An endpoint failing `DISABLE_AFTER_FAILURES`
times in a row for at least `DISABLE_AFTER` is disabled with the reason; its waiting
deliveries resume when an administrator enables it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from wacrm.hooks import service
from wacrm.jobs import context, enqueue, entrypoint, periodic

log = logging.getLogger(__name__)

DELIVER_JOB = "hooks.deliver"
TIMEOUT = 10.0  # seconds a receiver has to answer
GIVE_UP_AFTER = timedelta(hours=24)
FIRST_RETRY = 30.0  # seconds; doubles per attempt
MAX_RETRY = 3600.0
DISABLE_AFTER_FAILURES = 20
DISABLE_AFTER = timedelta(hours=1)
LEASE = timedelta(minutes=2)
RELEASE_BATCH = 500

_RELEASE = """
UPDATE hook_deliveries d SET state = 'queued', lease_until = now() + %(lease)s
WHERE d.id IN (
  SELECT d.id FROM hook_deliveries d JOIN hook_endpoints e ON e.id = d.endpoint_id AND e.enabled
  WHERE (d.state IN ('pending', 'retry') AND d.next_attempt_at <= now())
     OR (d.state IN ('queued', 'sending') AND d.lease_until < now())
  ORDER BY d.next_attempt_at LIMIT %(limit)s
  FOR UPDATE OF d SKIP LOCKED)
RETURNING d.id
"""

_CLAIM = """
UPDATE hook_deliveries d SET state = 'sending', lease_until = now() + %(lease)s,
  attempts = attempts + 1, last_attempt_at = now()
FROM hook_endpoints e, hook_events ev
WHERE d.id = %(id)s AND d.state = 'queued' AND e.id = d.endpoint_id AND e.enabled
  AND ev.id = d.event_id
RETURNING d.id, d.attempts, d.event_id, d.endpoint_id, e.url, e.secret, ev.event,
  ev.created_at AS event_at, ev.agent_id, ev.data
"""

_DELIVERED = """
WITH d AS (
  UPDATE hook_deliveries SET state = 'delivered', delivered_at = now(), lease_until = NULL,
    last_status = %(status)s, last_error = NULL, last_duration_ms = %(ms)s
  WHERE id = %(id)s AND state = 'sending' RETURNING endpoint_id)
UPDATE hook_endpoints SET failure_streak = 0, failing_since = NULL, last_success_at = now()
WHERE id = (SELECT endpoint_id FROM d)
"""

_FAILED = """
UPDATE hook_deliveries SET state = %(state)s, lease_until = NULL, last_status = %(status)s,
  last_error = %(error)s, last_duration_ms = %(ms)s, next_attempt_at = now() + %(delay)s
WHERE id = %(id)s AND state = 'sending'
RETURNING id
"""

_STREAK = """
UPDATE hook_endpoints SET failure_streak = failure_streak + 1,
  failing_since = coalesce(failing_since, now()),
  enabled = NOT (failure_streak + 1 >= %(failures)s AND coalesce(failing_since, now()) <= now() - %(after)s),
  disabled_at = CASE WHEN failure_streak + 1 >= %(failures)s
    AND coalesce(failing_since, now()) <= now() - %(after)s THEN now() END,
  disabled_reason = CASE WHEN failure_streak + 1 >= %(failures)s
    AND coalesce(failing_since, now()) <= now() - %(after)s
    THEN format('disabled automatically after %%s failed deliveries in a row since %%s UTC; last error: %%s',
      failure_streak + 1, to_char(coalesce(failing_since, now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
      %(error)s::text) END
WHERE id = %(endpoint)s AND enabled
"""


def retry_delay(attempt: int) -> float:
    """Seconds before the next try after `attempt` failed tries: 30, 60, 120, ... at most 3600, ±10%."""
    base = min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempt - 1))
    return base * random.uniform(0.9, 1.1)


async def release_due() -> int:
    """Turn due deliveries (and those whose job died) into delivery jobs; return how many."""
    async with context.current().statements.connection() as conn, conn.transaction():
        cur = await conn.execute(_RELEASE, {"lease": LEASE, "limit": RELEASE_BATCH})
        ids = [r["id"] for r in await cur.fetchall()]
        for delivery_id in ids:
            await enqueue(conn, DELIVER_JOB, {"delivery_id": delivery_id})
    return len(ids)


@periodic("hooks.release", every=timedelta(milliseconds=500))
async def release_task() -> None:
    await release_due()


async def _post(
    url: str, body: bytes, headers: dict[str, str], address: str | None = None
) -> tuple[int | None, str | None]:
    """(HTTP status, error) of one POST; error is None for a 2xx answer. With `address` the
    connection goes to that IP (the one checked), while the URL's host names the site in the
    Host header and TLS (SNI and certificate check): a name cannot resolve to another address
    between the check and the connection (DNS rebinding)."""
    extensions: dict[str, Any] = {}
    if address is not None:
        parts = httpx.URL(url)
        headers = {**headers, "Host": parts.netloc.decode("ascii")}
        extensions["sni_hostname"] = parts.host
        url = str(parts.copy_with(host=address))
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
            response = await http.post(url, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException:
        return None, f"no answer within {TIMEOUT:g} s"
    except httpx.HTTPError as exc:
        return None, f"could not connect: {type(exc).__name__} {exc}".strip()
    if 200 <= response.status_code < 300:
        return response.status_code, None
    text = response.text[:200].strip()
    return response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else "")


async def public_address(url: str) -> tuple[str | None, str | None]:
    """(address to connect to, refusal) of a delivery in production: every address the URL's
    host resolves to must be public, and the POST then goes to the first one (checked at every
    delivery: DNS answers change). Outside production: (None, None), a normal connection."""
    if context.current().settings.private_addresses_allowed:
        return None, None
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        infos = []  # the POST reports the name that does not resolve
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    for address in [host, *addresses]:
        if service.private_address(address):
            return None, f"refused: {host} is an address of this machine or of a private network"
    return (addresses[0] if addresses else None), None


@entrypoint(DELIVER_JOB)
async def deliver(payload: dict[str, Any]) -> None:
    """POST one event to its endpoint and record the outcome (retry, give up, disable)."""
    pool = context.current().statements
    async with pool.connection() as conn:
        cur = await conn.execute(_CLAIM, {"id": payload["delivery_id"], "lease": LEASE})
        job = await cur.fetchone()
    if job is None:
        return  # delivered, cancelled, or its endpoint disabled meanwhile
    body = service.envelope(job)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "wacrm-webhooks/1",
        service.SIGNATURE_HEADER: service.sign(body, service.plain_secret(job)),
        "X-Wacrm-Event": job["event"],
        "X-Wacrm-Event-Id": str(job["event_id"]),
        "X-Wacrm-Delivery": str(job["id"]),
    }
    started = time.monotonic()
    address, error = await public_address(job["url"])
    status = None
    if error is None:
        status, error = await _post(job["url"], body, headers, address)
    ms = int((time.monotonic() - started) * 1000)
    async with pool.connection() as conn, conn.transaction():
        if error is None:
            await conn.execute(_DELIVERED, {"id": job["id"], "status": status, "ms": ms})
            return
        delay = retry_delay(job["attempts"])
        expired = datetime.now(UTC) + timedelta(seconds=delay) > job["event_at"] + GIVE_UP_AFTER
        await conn.execute(
            _FAILED,
            {
                "id": job["id"],
                "state": "failed" if expired else "retry",
                "status": status,
                "error": error if not expired else f"{error} (gave up: 24 hours of retries)",
                "ms": ms,
                "delay": timedelta(seconds=delay),
            },
        )
        await conn.execute(
            _STREAK,
            {
                "endpoint": job["endpoint_id"],
                "failures": DISABLE_AFTER_FAILURES,
                "after": DISABLE_AFTER,
                "error": error,
            },
        )
    log.info("webhook delivery %s to %s failed: %s", job["id"], job["url"], error)
