"""Size limits (413 early, with and without Content-Length), upload type and size, filenames, media headers."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.conversations.factory import add_customer, add_message
from tests.helpers import bearer, make_agent_user
from wacrm.media.store import media_key, media_store
from wacrm.sandbox.server import ThreadedServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMIT = 3 * 1024 * 1024  # the default WACRM_MAX_BODY_BYTES


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/webhooks/whatsapp", {"X-Hub-Signature-256": "sha256=00"}),
        ("/api/v1/orders", {"Authorization": "Bearer wacrm_nonsense"}),
        ("/login", {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
)
async def test_big_bodies_are_refused_before_the_route(
    client, path: str, headers: dict[str, str]
) -> None:
    """413 rather than the route's own 401/403/422: the body was refused before anything read it."""
    big = b"x" * (LIMIT + 1)
    response = await client.post(path, content=big, headers=headers)
    assert response.status_code == 413 and "too large" in response.json()["detail"]

    async def chunks() -> Any:  # no Content-Length: Transfer-Encoding chunked
        for _ in range(LIMIT // 65536 + 2):
            yield b"y" * 65536

    response = await client.post(path, content=chunks(), headers=headers)
    # Starlette's form parser has its own, smaller limit per field (1 MB): its 400 comes first there.
    assert response.status_code == (400 if path == "/login" else 413), response.text
    small = await client.post(path, content=b"{}", headers=headers)
    assert small.status_code != 413


def _raw_request(base_url: str, head: bytes, body_chunks: int) -> bytes:
    """Send a request over a real socket, never finish the body, and read what the server answers."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for _ in range(body_chunks):
                sock.sendall(b"10000\r\n" + b"z" * 65536 + b"\r\n")
        except OSError:
            pass  # the server closed the connection after refusing: fine
        sock.settimeout(10)
        return sock.recv(4096)


def test_limits_over_a_real_socket(db_url: str, settings: Any) -> None:
    """Chunked bodies that never end and a huge Content-Length are both answered 413 at once."""
    from wacrm.app import create_app

    app = create_app(settings, database_url=db_url)
    with ThreadedServer(app) as server:
        chunked = (
            b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"X-Hub-Signature-256: sha256=00\r\nContent-Type: application/json\r\n\r\n"
        )
        answer = _raw_request(server.base_url, chunked, LIMIT // 65536 + 4)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        huge = (
            b"POST /api/v1/media HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        )
        answer = _raw_request(server.base_url, huge, 0)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


UPLOADS = [
    ("photo.jpg", b"MZ\x90\x00\x03" + b"\x00" * 100, "image/jpeg", "image", 415),  # an .exe renamed
    ("page.html", b"<html><script>alert(1)</script></html>", "text/html", "document", 415),
    ("page.txt", b"<html><script>alert(1)</script></html>", "text/plain", "document", 415),
    (
        "x.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/svg+xml",
        "image",
        415,
    ),
    (
        "x.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "image/png",
        "image",
        415,
    ),
    ("tool.exe", b"MZ\x90\x00", "application/x-msdownload", "document", 415),
    ("fake.pdf", b"MZ\x90\x00", "application/pdf", "document", 415),
    ("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "image/png", "image", 413),
    ("empty.png", b"", "image/png", "image", 422),
    ("ok.png", PNG, "image/png", "other", 422),
]


async def test_uploads_are_checked_for_type_content_and_size(client, conn) -> None:
    a = await make_agent_user(conn, "ann@example.com")
    for name, data, mime, kind, status in UPLOADS:
        response = await client.post(
            "/api/v1/media",
            files={"file": (name, data, mime)},
            data={"kind": kind},
            headers=bearer(a["token"]),
        )
        assert response.status_code == status, (name, response.status_code, response.text)
    cur = await conn.execute("SELECT count(*) AS n FROM outbound_media")
    assert (await cur.fetchone())["n"] == 0
    good = await client.post(
        "/api/v1/media",
        files={"file": ("ok.png", PNG, "image/png")},
        data={"kind": "image"},
        headers=bearer(a["token"]),
    )
    assert good.status_code == 201


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("in\x00voice.pdf", "invoice.pdf"),
        ("a\tb\x1bc\x7f.pdf", "abc.pdf"),
        ("...", "file"),
        ("/", "file"),
        ("Rechnung für Müller – 東京.pdf", "Rechnung für Müller – 東京.pdf"),
        ("x" * 1000 + ".pdf", "x" * 200),
    ],
)
async def test_upload_filenames_are_sanitised(client, conn, given: str, expected: str) -> None:
    """The multipart body is built by hand: httpx would percent-escape NUL and CR/LF itself."""
    a = await make_agent_user(conn, "ann@example.com")
    quoted = given.replace('"', "%22").encode()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndocument\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + quoted + b'"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n--b--\r\n"
    )
    response = await client.post(
        "/api/v1/media",
        content=body,
        headers={**bearer(a["token"]), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == expected


@pytest.mark.parametrize(
    ("mime", "filename", "content_type", "disposition"),
    [
        ("text/html", "x.html", "application/octet-stream", "attachment"),
        ("image/svg+xml", "x.svg", "application/octet-stream", "attachment"),
        ("application/xhtml+xml", "x.xhtml", "application/octet-stream", "attachment"),
        ("image/jpeg", 'a"\r\nX-Evil: 1.jpg', "image/jpeg", "inline"),
        ("text/html; charset=utf-8", None, "application/octet-stream", "attachment"),
        ("application/pdf", "../../etc/passwd", "application/pdf", "attachment"),
    ],
)
async def test_media_is_served_with_safe_headers(
    client, conn, settings, mime: str, filename: str | None, content_type: str, disposition: str
) -> None:
    """Whatever a customer sent, our origin never renders it as a page: nosniff, CSP sandbox, attachment."""
    a = await make_agent_user(conn, "ann@example.com")
    cid = await add_customer(conn, a["tables"], "Eve", phone="+4915100000009")
    mid = await add_message(
        conn,
        a["tables"],
        cid,
        "",
        media_type="document",
        wa_type="document",
        media_status="ready",
        media_mime_type=mime,
        media_filename=filename,
    )
    await media_store(settings).put(media_key(a["agent"]["id"], mid), b"<script>alert(1)</script>")
    response = await client.get(f"/api/v1/media/{mid}", headers=bearer(a["token"]))
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    cd = response.headers["content-disposition"]
    assert cd.startswith(disposition + "; filename=")
    assert "\r" not in cd and "\n" not in cd and cd.count('"') == 2 and "/" not in cd


async def test_nul_character_in_login_is_a_clear_422(client) -> None:
    """Found by the schemathesis run: a NUL in the e-mail reached the throttle's query (500)."""
    r = await client.post(
        "/api/v1/auth/login", json={"email": "a\u0000@example.com", "password": "x"}
    )
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
