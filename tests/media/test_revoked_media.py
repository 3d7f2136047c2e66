"""A message the customer deleted (revoke) loses its media file too, however the two are timed."""

from __future__ import annotations

import hashlib

from tests.inbound.conftest import deliver, load, rows
from tests.media.test_media import JPEG, _image_message, _upload, media_agent  # noqa: F401
from wacrm.media import service as media
from wacrm.media.erasure import erase_revoked
from wacrm.media.store import media_key, media_store


def _revoke_image(agent) -> dict:
    payload = load("revoke")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["revoke"] = {
        "original_message_id": "wamid.IMAGE_1"
    }
    return payload


async def test_a_downloaded_file_is_removed_after_the_revoke(
    client,
    conn,
    sandbox,
    media_agent,
    settings,  # noqa: F811
):
    s = settings.model_copy(update={"whatsapp_api_base_url": sandbox.base_url})
    job = await _image_message(
        client,
        conn,
        media_agent,
        _upload(sandbox, media_agent["number"]),
        hashlib.sha256(JPEG).hexdigest(),
    )
    store = media_store(s)
    assert await media.download(conn, settings=s, store=store, payload=job) == "ready"
    [m] = await rows(conn, media_agent["tables"].query("SELECT id FROM {messages}"))
    key = media_key(media_agent["agent"]["id"], m["id"])
    assert await store.get(key) == JPEG

    r = await deliver(
        client, _revoke_image(media_agent), secret=media_agent["number"]["app_secret"]
    )
    assert r.status_code == 200
    assert await erase_revoked(conn, store=store) == 1
    assert await store.get(key) is None
    assert await rows(conn, "SELECT * FROM media_erasures") == []
    assert await erase_revoked(conn, store=store) == 0  # nothing left, nothing twice
    got = await client.get(
        f"/api/v1/media/{m['id']}", headers={"Authorization": f"Bearer {media_agent['token']}"}
    )
    assert got.status_code in (404, 409, 410), got.status_code


async def test_a_download_after_the_revoke_stores_nothing(
    client,
    conn,
    sandbox,
    media_agent,
    settings,  # noqa: F811
):
    s = settings.model_copy(update={"whatsapp_api_base_url": sandbox.base_url})
    job = await _image_message(
        client,
        conn,
        media_agent,
        _upload(sandbox, media_agent["number"]),
        hashlib.sha256(JPEG).hexdigest(),
    )
    r = await deliver(
        client, _revoke_image(media_agent), secret=media_agent["number"]["app_secret"]
    )
    assert r.status_code == 200
    store = media_store(s)
    assert await media.download(conn, settings=s, store=store, payload=job) == "failed"
    [m] = await rows(conn, media_agent["tables"].query("SELECT * FROM {messages}"))
    assert m["media_url"] is None and m["deleted_at"] is not None
    assert await store.get(media_key(media_agent["agent"]["id"], m["id"])) is None
