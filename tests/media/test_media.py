"""Media: download through the Graph API (the sandbox on loopback), checksum, store, safe serving."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.helpers import WEBHOOK_URL, bearer, make_agent_user
from tests.inbound.conftest import deliver, load, rows
from wacrm.media import service as media
from wacrm.media.router import safe_headers
from wacrm.media.store import FolderStore, media_store
from wacrm.numbers import service as numbers

JPEG = b"\xff\xd8\xff\xe0" + b"fake jpeg body " * 50


@pytest.fixture
async def media_agent(conn, sandbox):
    number = sandbox.register_number()
    a = await make_agent_user(conn, "seller@example.com")
    await numbers.configure(
        conn,
        webhook_url=WEBHOOK_URL,
        user_id=a["user_id"],
        whatsapp_number="+15550001111",
        phone_number_id=number["phone_number_id"],
        access_token=number["access_token"],
        app_secret=number["app_secret"],
    )
    a["number"] = number
    return a


def _upload(sandbox, number, content=JPEG, mime="image/jpeg") -> str:
    r = httpx.post(
        f"{sandbox.graph_url}/{number['phone_number_id']}/media",
        headers={"Authorization": f"Bearer {number['access_token']}"},
        data={"messaging_product": "whatsapp", "type": mime},
        files={"file": ("photo.jpg", content, mime)},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    return r.json()["id"]


async def _image_message(client, conn, agent, media_id, sha256):
    payload = load("image")
    body = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    body.update(id=media_id, sha256=sha256)
    r = await deliver(client, payload, secret=agent["number"]["app_secret"])
    assert r.status_code == 200
    [job] = await rows(conn, "SELECT payload FROM pgqueuer WHERE entrypoint = 'media.download'")
    import json

    return json.loads(bytes(job["payload"]))


async def test_download_store_and_serve(client, conn, app, sandbox, media_agent, settings):
    s = settings.model_copy(update={"whatsapp_api_base_url": sandbox.base_url})
    media_id = _upload(sandbox, media_agent["number"])
    job = await _image_message(
        client, conn, media_agent, media_id, hashlib.sha256(JPEG).hexdigest()
    )
    store = media_store(s)
    assert await media.download(conn, settings=s, store=store, payload=job) == "ready"
    [m] = await rows(conn, media_agent["tables"].query("SELECT * FROM {messages}"))
    assert m["media_status"] == "ready" and m["media_url"] == f"/api/v1/media/{m['id']}"
    assert (
        m["media_size"] == len(JPEG)
        and await store.get(f"{media_agent['agent']['id']}/{m['id']}") == JPEG
    )
    # served to the agent's users, with safe headers
    got = await client.get(m["media_url"], headers=bearer(media_agent["token"]))
    assert got.status_code == 200 and got.content == JPEG
    assert (
        got.headers["content-type"] == "image/jpeg"
        and got.headers["x-content-type-options"] == "nosniff"
    )
    assert got.headers["content-disposition"].startswith("inline")
    # not to anonymous callers nor to another agent
    assert (await client.get(m["media_url"])).status_code == 401
    other = await make_agent_user(conn, "other@example.com")
    assert (await client.get(m["media_url"], headers=bearer(other["token"]))).status_code == 404
    # a second run of the same job does nothing
    assert await media.download(conn, settings=s, store=store, payload=job) == "ready"


async def test_checksum_mismatch_retries_then_fails(client, conn, sandbox, media_agent, settings):
    s = settings.model_copy(update={"whatsapp_api_base_url": sandbox.base_url})
    media_id = _upload(sandbox, media_agent["number"])
    job = await _image_message(client, conn, media_agent, media_id, "0" * 64)
    store = media_store(s)
    assert await media.download(conn, settings=s, store=store, payload=job, attempt=0) == "retrying"
    [m] = await rows(conn, media_agent["tables"].query("SELECT * FROM {messages}"))
    assert m["media_status"] == "retrying" and "sha256" in m["media_error"]
    last = media.MAX_ATTEMPTS - 1
    assert (
        await media.download(conn, settings=s, store=store, payload=job, attempt=last) == "failed"
    )
    [m] = await rows(conn, media_agent["tables"].query("SELECT * FROM {messages}"))
    assert m["media_status"] == "failed" and "sha256" in m["media_error"]
    got = await client.get(f"/api/v1/media/{m['id']}", headers=bearer(media_agent["token"]))
    assert got.status_code == 409 and "sha256" in got.json()["detail"]
    assert media.backoff(0).total_seconds() < media.backoff(3).total_seconds()


async def test_unknown_media_id_fails_at_once(client, conn, sandbox, media_agent, settings):
    s = settings.model_copy(update={"whatsapp_api_base_url": sandbox.base_url})
    job = await _image_message(client, conn, media_agent, "999999999", "")
    assert await media.download(conn, settings=s, store=media_store(s), payload=job) == "failed"


def test_safe_headers():
    ct, h = safe_headers("text/html", "x.html", 1)
    assert ct == "application/octet-stream" and h["Content-Disposition"].startswith("attachment")
    ct, h = safe_headers("image/svg+xml", "a.svg", 1)
    assert ct == "application/octet-stream" and h["Content-Disposition"].startswith("attachment")
    ct, h = safe_headers("application/pdf", 'in"voice.pdf', 1)
    assert (
        ct == "application/pdf"
        and h["Content-Disposition"] == 'attachment; filename="in_voice.pdf"'
    )
    ct, h = safe_headers("audio/ogg; codecs=opus", None, 7)
    assert ct == "audio/ogg" and h["Content-Disposition"].startswith("inline")
    ct, _ = safe_headers("nonsense", None, 1)
    assert ct == "application/octet-stream"
    assert all(
        h["X-Content-Type-Options"] == "nosniff" for _, h in [safe_headers("image/png", None, 1)]
    )


async def test_folder_store_rejects_bad_keys(tmp_path):
    store = FolderStore(tmp_path)
    with pytest.raises(ValueError):
        await store.put("../etc/passwd", b"x")
    await store.put("1/2", b"data")
    assert await store.get("1/2") == b"data" and await store.get("1/3") is None
    await store.delete("1/2")
    assert await store.get("1/2") is None
