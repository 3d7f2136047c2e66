"""A broadcast of a template with an IMAGE header: the form asks for the header's image (a link or a
media id), refuses without it, and every recipient's message carries it as the header parameter."""

from __future__ import annotations

import time
from typing import Any

from tests.broadcasts.test_pages import _shop
from tests.outbound.conftest import wait_until, worker
from tests.wa_templates.test_media_header import PNG, _draft, _sandbox_status
from tests.web.conftest import sign_in
from wacrm.numbers import service as numbers
from wacrm.outbound import templates as cache
from wacrm.wa_templates import service


async def test_broadcast_asks_for_and_sends_the_header_image(
    client: Any, conn: Any, db_url: str, graph_base: Any
) -> None:
    ann = await _shop(conn, graph_base)
    await conn.execute(ann["tables"].query("UPDATE {customers} SET opted_in = true"))
    config = await numbers.get_by_agent_id(conn, agent_id=ann["agent"]["id"])
    assert config is not None
    draft = _draft(category="MARKETING")
    await service.attach_sample(
        config, draft, PNG, "image/png", "photo.png", graph=graph_base.graph
    )
    await service.submit(conn, config=config, draft=draft, graph=graph_base.graph)
    deadline = time.monotonic() + 10
    while await _sandbox_status(graph_base, "order_photo") != "APPROVED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    await cache.refresh(conn, config=config, graph=graph_base.graph)
    csrf = await sign_in(client, "ann@example.com")
    fields = await client.get("/broadcasts/params", params={"template": "order_photo|en_US"})
    assert 'name="header_media"' in fields.text and "The header's image" in fields.text
    form = {
        "csrf_token": csrf,
        "name": "Photos",
        "template": "order_photo|en_US",
        "params": ["{first_name}"],
        "when": "now",
    }
    missing = await client.post("/broadcasts", data=form)
    assert missing.status_code == 422 and "has an image header" in missing.text
    assert 'value="Photos"' in missing.text
    bad = await client.post("/broadcasts", data={**form, "header_media": "http://x.example/a.png"})
    assert bad.status_code == 422 and "https:// link or a media id" in bad.text
    made = await client.post(
        "/broadcasts", data={**form, "header_media": "https://shop.example/p.png"}
    )
    assert made.status_code == 303, made.text
    async with worker(db_url):

        async def sent() -> Any:
            found = [
                m
                for m in graph_base.sent_messages()["messages"]
                if m["type"] == "template" and m["wamid"]
            ]
            return found if len(found) == 3 else None

        messages = await wait_until(sent, 30)
    assert messages, graph_base.sent_messages()
    for m in messages:
        header = m["request"]["template"]["components"][0]
        assert header["parameters"] == [
            {"type": "image", "image": {"link": "https://shop.example/p.png"}}
        ]
