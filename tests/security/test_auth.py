"""Authentication: timing-safe comparisons, session fixation, cookie flags, security headers, no secret in logs."""

from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import bearer, make_admin
from tests.outbound.conftest import graph_base, shop, wait_status, worker  # noqa: F401 (fixtures)
from tests.sandbox_fixture import DEFAULT_NUMBER, signed_inbound
from tests.web.conftest import PASSWORD, post_login, user_with_password
from wacrm.accounts import sessions, tokens
from wacrm.inbound import endpoint as inbound_endpoint
from wacrm.inbound import router as inbound_router
from wacrm.outbound import service as outbound

SRC = Path(__file__).resolve().parents[2] / "src" / "wacrm"
SECRET_WORDS = ("token", "secret", "signature", "password", "csrf", "digest", "api_key", "hmac")
NOT_SECRET = (
    "_id",
    "_name",
    "_hint",
    "_type",
    "_at",
    "_count",
    "kind",
    "prefix",
    "expected_status",
)
# (file, line text) pairs reviewed by hand, none compares an attacker's guess with a secret: the user's
# own two form fields; an empty-password check; a header NAME; two stored secrets (which number signed);
# a downloaded file's checksum against the one in the payload (integrity, not a secret).
REVIEWED = {
    ("web/auth.py", "if new_password != confirm_password:"),
    ("accounts/passwords.py", 'if password is None or password == "":'),
    ("inbound/endpoint.py", "if name == _SIGNATURE:"),
    ("inbound/payload.py", "if route.app_secret != signer:"),
    (
        "media/service.py",
        "return expected.strip().lower() == digest.hex() or expected.strip() in (",
    ),
}


def _names(node: ast.AST) -> list[str]:
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.append(sub.id.lower())
        elif isinstance(sub, ast.Attribute):
            out.append(sub.attr.lower())
    return out


def _is_secret(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return False
    return any(
        any(w in n for w in SECRET_WORDS) and not any(x in n for x in NOT_SECRET)
        for n in _names(node)
    )


def test_secrets_are_never_compared_with_eq() -> None:
    """Review by AST: no ==/!= on a value named like a token, secret, signature, password or CSRF token."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("sandbox/"):  # the stand-in for Meta, not our security boundary
            continue
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value is None for o in operands):
                continue
            if (
                sum(_is_secret(o) for o in operands)
                and (rel, lines[node.lineno - 1].strip()) not in REVIEWED
            ):
                found.append(f"{rel}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not found, "secret compared with ==/!=:\n" + "\n".join(found)


def test_the_compare_functions_are_constant_time() -> None:
    for fn in (inbound_endpoint.signature_matches, sessions.csrf_matches):
        assert "hmac.compare_digest" in inspect.getsource(fn), fn.__name__
    assert "compare_digest" in inspect.getsource(inbound_router.verify_subscription)
    # API tokens and session cookies are found by their SHA-256 in an index, never compared in Python.
    assert "token_hash = %s" in inspect.getsource(tokens.user_for_token)
    assert "token_hash = %s" in inspect.getsource(sessions.resolve_session)


async def test_session_fixation_a_planted_cookie_is_replaced(client, conn) -> None:
    """A session id chosen by an attacker before login is neither kept nor made valid by the login."""
    await user_with_password(conn, "ann@example.com")
    planted = "attacker-chosen-session-id-0123456789"
    client.cookies.set(sessions.SESSION_COOKIE, planted)
    r = await post_login(client, {"email": "ann@example.com", "password": PASSWORD})
    assert r.status_code == 303
    issued = r.cookies.get(sessions.SESSION_COOKIE)
    assert issued and issued != planted
    client.cookies.clear()
    me_planted = await client.get(
        "/api/v1/auth/me", headers={"Cookie": f"{sessions.SESSION_COOKIE}={planted}"}
    )
    assert me_planted.status_code == 401
    client.cookies.set(sessions.SESSION_COOKIE, issued)
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    again = await post_login(client, {"email": "ann@example.com", "password": PASSWORD})
    assert again.cookies.get(sessions.SESSION_COOKIE) not in (None, issued)


async def test_web_cookies_are_flagged_behind_https(db_url: str, settings: Any, conn) -> None:
    import httpx

    from wacrm.app import create_app

    https = settings.model_copy(update={"public_url": "https://crm.example"})
    app = create_app(https, database_url=db_url)
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    ann = await user_with_password(conn, "ann@example.com")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://crm.example") as http:
            r = await post_login(http, {"email": "root@example.com", "password": PASSWORD})
            cookies = r.headers.get_list("set-cookie")
            page = await http.get("/inbox")
            csrf = (
                page.text.split('name="csrf-token" content="')[1].split('"')[0]
                if "csrf-token" in page.text
                else ""
            )
            switch = await http.post(
                "/workspace", data={"agent_id": str(ann["agent"]["id"]), "csrf_token": csrf}
            )
            cookies += switch.headers.get_list("set-cookie")
    session = [c for c in cookies if c.startswith(sessions.SESSION_COOKIE + "=")]
    assert session, cookies
    for cookie in cookies:
        flags = cookie.lower()
        samesite = "samesite=lax" in flags or "samesite=strict" in flags
        assert "httponly" in flags and samesite and "secure" in flags, cookie


async def test_security_headers_on_every_web_page(app, client, conn) -> None:
    """Every GET page of the web app (signed in as an admin with a workspace) carries the headers."""
    await user_with_password(conn, "root@example.com", role="admin")
    r = await post_login(client, {"email": "root@example.com", "password": PASSWORD})
    assert r.status_code == 303
    from fastapi.routing import iter_route_contexts

    paths = sorted(
        {
            route.path
            for route in iter_route_contexts(app.routes)
            if "GET" in (getattr(route, "methods", None) or ())
            and "{" not in route.path
            and not route.path.startswith(
                ("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics", "/openapi")
            )
        }
    )
    assert len(paths) >= 3, paths
    for path in [*paths, "/no-such-page"]:
        page = await client.get(path)
        assert page.status_code < 500, (path, page.status_code)
        h = page.headers
        csp = h.get("content-security-policy", "")
        assert (
            "script-src 'self'" in csp
            and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        ), path
        assert "frame-ancestors 'none'" in csp and h.get("x-frame-options") == "DENY", path
        assert h.get("referrer-policy") and h.get("x-content-type-options") == "nosniff", path


async def test_no_secret_in_logs_or_error_pages(
    client,
    conn,
    db_url: str,
    shop: dict[str, Any],
    caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    """Create a number with tokens, receive, send, fail with 190, log in wrong and right: grep every log."""
    caplog.set_level(logging.DEBUG)
    admin = await make_admin(conn)
    user = await user_with_password(conn, "bob@example.com")
    api_secret, api_token = (
        "api-created-app-secret-9f8e7d6c",
        "EAAG-api-created-access-token-1a2b3c",
    )
    r = await client.post(
        "/api/v1/whatsapp/configurations",
        json={
            "user_id": str(user["user"]["id"]),
            "whatsapp_number": "+15550002222",
            "phone_number_id": "999000111",
            "access_token": api_token,
            "app_secret": api_secret,
            "verify_token": "verify-token-api-77",
        },
        headers=bearer(admin["token"]),
    )
    assert r.status_code in (200, 201), r.text
    body, headers, _ = signed_inbound("text", "hello", phone=shop["customer"]["phone"].lstrip("+"))
    assert (
        await client.post("/webhooks/whatsapp", content=body, headers=headers)
    ).status_code == 200
    bad = await client.post(
        "/webhooks/whatsapp",
        content=body,
        headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert bad.status_code == 403
    from tests.outbound.test_send import queue

    ok = await queue(conn, shop, type="text", body="first")
    async with worker(db_url):
        await wait_status(conn, shop["tables"], ok["id"], {"sent", "delivered", "read"})
        shop["sandbox"].set_faults("token_expired")
        failed = await queue(conn, shop, type="text", body="second")
        row = await wait_status(conn, shop["tables"], failed["id"], {"failed"})
    assert row["error_code"] == 190
    wrong = await post_login(
        client, {"email": "bob@example.com", "password": "wrong-password-xyz-123"}
    )
    assert wrong.status_code == 401
    good = await post_login(client, {"email": "bob@example.com", "password": PASSWORD})
    cookie = good.cookies.get(sessions.SESSION_COOKIE)
    assert cookie
    pages = [
        await client.get("/api/v1/auth/me", headers=bearer("wacrm_forged-token-value-555")),
        await client.get(
            "/api/v1/orders", headers=bearer(shop["token"]), params={"cursor": "garbage"}
        ),
        await client.get("/no-such-page"),
        await client.post(
            "/api/v1/customers/1/messages", json={"type": "text"}, headers=bearer(shop["token"])
        ),
    ]
    secrets = {
        "access token": DEFAULT_NUMBER["access_token"],
        "app secret": DEFAULT_NUMBER["app_secret"],
        "API-created access token": api_token,
        "API-created app secret": api_secret,
        "verify token": "verify-token-api-77",
        "password": PASSWORD,
        "wrong password": "wrong-password-xyz-123",
        "API token": shop["token"],
        "admin API token": admin["token"],
        "forged token": "wacrm_forged-token-value-555",
        "session cookie": cookie,
    }
    logged = (
        "\n".join(
            f"{rec.getMessage()} {rec.exc_text or ''} {rec.__dict__}" for rec in caplog.records
        )
        + caplog.text
    )
    assert len(caplog.records) > 5, "the scenario should have logged something"
    for what, value in secrets.items():
        assert value not in logged, f"the {what} appears in the logs"
        for page in pages:
            assert value not in page.text, (
                f"the {what} appears in an error page ({page.status_code})"
            )
    assert outbound is not None
