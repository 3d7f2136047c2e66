"""History media (coexistence): the backfill first names a photo without its media id; a later
webhook of the same message carries the id, and the photo is then downloaded into the chat."""

from __future__ import annotations

import copy
import hashlib
import json

from tests.inbound.conftest import deliver, load, rows
from tests.media.test_media import JPEG, _upload, media_agent  # noqa: F401
from wacrm.media import service as media
from wacrm.media.store import media_store


async def _download_jobs(conn) -> list[dict]:
    found = await rows(conn, "SELECT payload FROM pgqueuer WHERE entrypoint = 'media.download'")
    return [json.loads(bytes(j["payload"])) for j in found]


async def test_history_photo_is_downloaded_once_its_id_arrives(
    client,
    conn,
    sandbox,
    media_agent,
    settings,  # noqa: F811
):
    secret = media_agent["number"]["app_secret"]
    first = load("history")
    assert (await deliver(client, first, secret=secret)).status_code == 200
    assert await _download_jobs(conn) == []  # no media id yet: nothing to fetch

    later = copy.deepcopy(first)
    media_id = _upload(sandbox, media_agent["number"])
    threads = later["entry"][0]["changes"][0]["value"]["history"][0]["threads"]
    photo = next(m for t in threads for m in t["messages"] if m["id"] == "wamid.HIST_3")
    photo["image"].update(id=media_id, sha256=hashlib.sha256(JPEG).hexdigest())
    assert (await deliver(client, later, secret=secret)).status_code == 200
    [job] = await _download_jobs(conn)
    assert job["wamid"] == "wamid.HIST_3"

    s = settings.model_copy(update={"whatsapp_api_base_url": sandbox.base_url})
    assert await media.download(conn, settings=s, store=media_store(s), payload=job) == "ready"
    [m] = await rows(
        conn, media_agent["tables"].query("SELECT * FROM {messages} WHERE wamid = 'wamid.HIST_3'")
    )
    assert m["media_status"] == "ready" and m["caption"] == "like this"
    assert m["origin"] == "history"
    got = await client.get(
        m["media_url"], headers={"Authorization": f"Bearer {media_agent['token']}"}
    )
    assert got.status_code == 200 and got.content == JPEG
