"""`wacrm check`: what a server needs before the CRM starts, each finding with what to do.

Settings, secret key, database reachability and version, migrations, the direct and read URLs,
public URL scheme, reverse-proxy trust, the media folder, and (unless skipped) each active
number's token and webhooks subscription at Meta. A problem makes the command exit non-zero;
the service units (deploy/) run it before starting.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import ValidationError

from wacrm.config import Settings
from wacrm.numbers.checks import Check, Status, check_callback

MIN_SERVER_VERSION = 150000  # PostgreSQL 15: what the CRM is tested on (docs/deploy: going-live)


def settings_or_problem(load: Callable[[], Settings]) -> tuple[Settings | None, Check]:
    try:
        settings = load()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        return None, Check(
            "settings", "Settings", "problem", f"{where}: {first.get('msg')}", "fix the environment"
        )
    return settings, Check("settings", "Settings", "ok", f"environment {settings.env}")


def secret_key(settings: Settings) -> Check:
    title = "Secret key"
    key = settings.secret_key
    fix = "set WACRM_SECRET_KEY to a long random value, e.g. `openssl rand -base64 48`"
    if not key:
        status: Status = "problem" if settings.env == "production" else "warning"
        return Check(
            "secret_key",
            title,
            status,
            "WACRM_SECRET_KEY is not set: a key generated in the data folder is used, which other"
            " machines do not share",
            fix,
        )
    if len(key) < 32:
        return Check("secret_key", title, "problem", "WACRM_SECRET_KEY is shorter than 32", fix)
    return Check("secret_key", title, "ok", f"set ({len(key)} characters)")


def _connect_check(key: str, title: str, url: str, role: str) -> tuple[Check, dict[str, Any]]:
    safe = url.split("@")[-1]
    try:
        with psycopg.connect(
            url, connect_timeout=5, row_factory=dict_row, prepare_threshold=None
        ) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version_num')::int AS num,"
                " current_setting('server_version') AS version, pg_is_in_recovery() AS replica"
            ).fetchone()
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Check(key, title, "problem", f"cannot reach {safe}: {first}", f"check {role}"), {}
    assert row is not None
    return Check(key, title, "ok", f"{safe}: PostgreSQL {row['version']}"), row


def database(settings: Settings, url: str) -> list[Check]:
    """The primary (through the pooler when there is one), the direct and the read URLs."""
    found, row = _connect_check("database", "Database", url, "DATABASE_URL")
    out = [found]
    if row:
        if row["num"] < MIN_SERVER_VERSION:
            found.status, found.fix = "warning", "the CRM is tested on PostgreSQL 15 and later"
        if row["replica"]:
            found.status = "problem"
            found.detail += " is a read-only replica"
            found.fix = "DATABASE_URL must be the primary; a replica belongs in DATABASE_READ_URL"
    if settings.database_direct_url:
        direct, _ = _connect_check(
            "direct_url", "Direct URL", settings.database_direct_url, "DATABASE_DIRECT_URL"
        )
        direct.detail += " (LISTEN and migrations; DATABASE_URL without prepared statements)"
        out.append(direct)
    elif settings.db_pooler == "transaction":
        out.append(
            Check(
                "direct_url",
                "Direct URL",
                "problem",
                "WACRM_DB_POOLER=transaction but no DATABASE_DIRECT_URL: LISTEN through PgBouncer"
                " delivers nothing (no live updates, jobs only by polling)",
                "set DATABASE_DIRECT_URL to the server itself (not the pooler)",
            )
        )
    if settings.database_read_url:
        out.append(read_replica(settings))
    return out


def read_replica(settings: Settings) -> Check:
    assert settings.database_read_url
    found, row = _connect_check(
        "read_url", "Read replica", settings.database_read_url, "DATABASE_READ_URL"
    )
    if row and not row["replica"]:
        found.status = "warning"
        found.detail += " is not a replica (reads simply go to that server)"
    elif row:
        from wacrm.db.replica import replica_lag_seconds

        try:
            lag = replica_lag_seconds(settings.database_read_url)
        except psycopg.Error:
            lag = None
        if lag is not None and lag > settings.read_max_lag_seconds:
            found.status = "warning"
            found.detail += f", {lag:.1f} s behind: reads go to the primary until it catches up"
        elif lag is not None:
            found.detail += f", {lag:.1f} s behind"
    return found


def migrations(url: str) -> Check:
    from wacrm.db.migrate import status

    try:
        pending, ahead = status(url)
    except psycopg.Error as exc:
        return Check("migrations", "Migrations", "problem", str(exc).splitlines()[0])
    if ahead:
        return Check(
            "migrations",
            "Migrations",
            "problem",
            f"the database has migrations {ahead} this version does not know",
            "upgrade wacrm on this machine",
        )
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending[:5])
        return Check(
            "migrations",
            "Migrations",
            "warning",
            f"{len(pending)} pending ({names})",
            "run `wacrm migrate` (wacrm serve applies them when it starts)",
        )
    return Check("migrations", "Migrations", "ok", "up to date")


def public_url(settings: Settings) -> list[Check]:
    callback = asyncio.run(check_callback(settings.public_url, has_verify_token=True))
    callback.key, callback.title = "public_url", "Public URL"
    if callback.status == "problem" and settings.env != "production":
        callback.status = "warning"  # a development machine: Meta cannot call it, but it runs
    trust = settings.forwarded_allow_ips.strip()
    proxy = Check(
        "proxy",
        "Reverse proxy",
        "ok",
        f"X-Forwarded-For/-Proto trusted from {trust}; serving on {settings.host}:{settings.port}",
    )
    if trust == "*" and settings.host not in ("127.0.0.1", "::1", "localhost"):
        proxy.status = "warning"
        proxy.detail = (
            f"WACRM_FORWARDED_ALLOW_IPS=* while listening on {settings.host}: anyone reaching the"
            " port can claim any client address (sign-in throttling counts per address)"
        )
        proxy.fix = "set WACRM_FORWARDED_ALLOW_IPS to the proxy's address"
    elif settings.public_url.startswith("https://") and settings.host in ("0.0.0.0", "::"):  # noqa: S104
        proxy.status = "warning"
        proxy.detail += " (every interface: the CRM is reachable without the TLS proxy)"
        proxy.fix = "listen on 127.0.0.1 behind a proxy on this host, or firewall the port"
    return [callback, proxy]


def media_folder(settings: Settings) -> Check:
    folder = Path(settings.data_dir) / "media"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-"):
            pass
    except OSError as exc:
        return Check(
            "media",
            "Media folder",
            "problem",
            f"{folder} is not writable: {exc.strerror or exc}",
            f"give the service's user write access to {folder} (WACRM_DATA_DIR)",
        )
    free = os.statvfs(folder)
    gib = free.f_bavail * free.f_frsize / 2**30
    status: Status = "warning" if gib < 1 else "ok"
    return Check("media", "Media folder", status, f"{folder} is writable, {gib:.1f} GiB free")


async def numbers_at_meta(url: str, settings: Settings) -> list[Check]:
    """Each active number's token and subscription (nothing is changed at Meta)."""
    from wacrm.numbers import service as numbers
    from wacrm.numbers.checks import check_subscription, check_token
    from wacrm.outbound.client import WhatsAppClient

    out: list[Check] = []
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True, prepare_threshold=None
    ) as conn:
        configs = [
            await numbers.get_by_user_id(conn, user_id=c["user_id"])
            for c in await numbers.list_configurations(conn)
            if c.get("is_active")
        ]
    for config in configs:
        if not config or not config.get("phone_number_id") or not config.get("access_token"):
            continue
        client = WhatsAppClient(
            phone_id=config["phone_number_id"],
            token=config["access_token"],
            graph=settings.graph_api,
            waba_id=config.get("business_account_id"),
            timeout=15.0,
        )
        try:
            for found in (
                await check_token(client, config),
                await check_subscription(client, subscribe=False),
            ):
                found.key = f"{found.key}:{config['phone_number_id']}"
                found.title = f"{config['whatsapp_number']}: {found.title}"
                out.append(found)
        finally:
            await client.aclose()
    return out


def run_all(settings: Settings, url: str, *, meta: bool) -> list[Check]:
    found = [secret_key(settings), *database(settings, url)]
    if found[1].status != "problem":
        found.append(migrations(settings.session_url(url)))
        if meta:
            found += asyncio.run(numbers_at_meta(url, settings))
    return [*found, *public_url(settings), media_folder(settings)]
