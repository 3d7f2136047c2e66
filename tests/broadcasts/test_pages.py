"""The broadcasts pages: compose with parameter fields per template, preview (count and texts),
errors next to their fields, schedule in the viewer's time zone, live counters, cancel."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers import configure_sandbox_number
from tests.outbound.conftest import add_customer, wait_until, worker
from tests.sandbox_fixture import DEFAULT_NUMBER
from tests.web.conftest import sign_in, user_with_password


async def _shop(conn: Any, graph_base: Any) -> dict[str, Any]:
    graph_base.register_number()
    ann = await user_with_password(conn, "ann@example.com")
    await configure_sandbox_number(conn, ann["user"]["id"], DEFAULT_NUMBER)
    for n, phone in enumerate(("+4915123450001", "+4915123450002", "+4915123450003")):
        row = await add_customer(conn, ann["tables"], phone, written_ago=None)
        await conn.execute(
            ann["tables"].query("UPDATE {customers} SET name = %s WHERE id = %s"),
            (f"Bea{n} Jones", row["id"]),
        )
    await conn.execute(
        ann["tables"].query(
            "UPDATE {customers} SET opted_in = false WHERE phone = '+4915123450003'"
        )
    )
    return ann


async def test_compose_preview_send_and_watch(
    client: Any, conn: Any, db_url: str, graph_base: Any
) -> None:
    await _shop(conn, graph_base)
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get("/broadcasts")
    assert page.status_code == 200 and "we_miss_you|en_US" in page.text
    fields = await client.get("/broadcasts/params", params={"template": "we_miss_you|en_US"})
    assert fields.text.count('name="params"') == 2 and "it has been a while" in fields.text
    form = {
        "csrf_token": csrf,
        "name": "Promo",
        "template": "we_miss_you|en_US",
        "params": ["{first_name}", "10%"],
        "when": "now",
    }
    preview = await client.post("/broadcasts/preview", data=form)
    assert 'data-audience-count="2"' in preview.text
    assert "Hi Bea0, it has been a while! Here is 10% off your next order." in preview.text
    missing = await client.post("/broadcasts", data={**form, "params": ["{first_name}"]})
    assert missing.status_code == 422
    assert re.search(
        r'class="error field-error" role="alert">we_miss_you needs 2 parameter', missing.text
    )
    past = await client.post(
        "/broadcasts", data={**form, "when": "later", "scheduled_at": "2020-01-01T10:00"}
    )
    assert (
        past.status_code == 422
        and "that time has passed" in past.text
        and 'value="Promo"' in past.text
    )
    made = await client.post("/broadcasts", data=form)
    assert made.status_code == 303
    url = made.headers["location"]
    assert 'hx-trigger="every 2s"' in (await client.get(url)).text
    async with worker(db_url):

        async def done() -> Any:
            text = (await client.get(url + "/counters")).text
            return text if 'data-counter="sent">2<' in text else None

        text = await wait_until(done, 30)
    assert text and 'data-counter="recipients">2<' in text


async def test_schedule_in_viewer_zone_and_cancel(client: Any, conn: Any, graph_base: Any) -> None:
    ann = await _shop(conn, graph_base)
    await conn.execute(
        "UPDATE users SET time_zone = 'America/Sao_Paulo' WHERE id = %s", (ann["user"]["id"],)
    )
    csrf = await sign_in(client, "ann@example.com")
    form = {
        "csrf_token": csrf,
        "name": "Later",
        "template": "we_miss_you|en_US",
        "params": ["a", "b"],
        "when": "later",
        "scheduled_at": "2099-06-01T09:30",
    }
    made = await client.post("/broadcasts", data=form)
    assert made.status_code == 303, made.text
    cur = await conn.execute("SELECT scheduled_at AT TIME ZONE 'UTC' AS utc FROM broadcasts")
    assert str((await cur.fetchone())["utc"]) == "2099-06-01 12:30:00"  # 09:30 in São Paulo
    url = made.headers["location"]
    cancelled = await client.post(url + "/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 303
    assert 'data-state="cancelled"' in (await client.get(url)).text
    assert (await client.post(url + "/cancel", data={"csrf_token": csrf})).status_code == 409
