"""The import pages: upload, preview with row-level errors, confirm (all or nothing), progress."""

from __future__ import annotations

import re
from typing import Any

from tests.contacts.test_import import CSV
from tests.outbound.conftest import wait_until, worker
from tests.web.conftest import sign_in, user_with_password


async def test_upload_preview_and_import(client: Any, conn: Any, db_url: str) -> None:
    ann = await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get("/customers/import")
    assert page.status_code == 200 and 'name="file"' in page.text
    empty = await client.post(
        "/customers/import", data={"csrf_token": csrf}, files={"file": ("x.csv", b"", "text/csv")}
    )
    assert empty.status_code == 422 and "choose a CSV file" in empty.text
    no_phone = await client.post(
        "/customers/import",
        data={"csrf_token": csrf},
        files={"file": ("x.csv", b"name\nA\n", "text/csv")},
    )
    assert no_phone.status_code == 422 and "no phone column" in no_phone.text
    bad_country = await client.post(
        "/customers/import",
        data={"csrf_token": csrf, "country": "QQ"},
        files={"file": ("x.csv", CSV.encode(), "text/csv")},
    )
    assert bad_country.status_code == 422 and "choose a country from the list" in bad_country.text
    made = await client.post(
        "/customers/import",
        data={"csrf_token": csrf, "country": "DE", "remember_country": "true"},
        files={"file": ("people.csv", CSV.encode(), "text/csv")},
    )
    assert made.status_code == 303
    url = made.headers["location"]
    detail = await client.get(url)
    assert detail.status_code == 200
    assert "not a valid phone number" in detail.text and "+4915123456789" in detail.text
    cur = await conn.execute(ann["tables"].query("SELECT count(*) AS n FROM {customers}"))
    assert (await cur.fetchone())["n"] == 0  # nothing written by the preview
    cur = await conn.execute(
        "SELECT default_country FROM agents WHERE id = %s", (ann["agent"]["id"],)
    )
    assert (await cur.fetchone())["default_country"] == "DE"
    refused = await client.post(url + "/start", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert re.search(
        r'name="skip_invalid".*?<span class="error field-error" role="alert">3 rows have errors',
        refused.text,
        re.S,
    )
    started = await client.post(url + "/start", data={"csrf_token": csrf, "skip_invalid": "true"})
    assert started.status_code == 303
    again = await client.post(url + "/start", data={"csrf_token": csrf, "skip_invalid": "true"})
    assert again.status_code == 409
    running = await client.get(url + "/progress")
    assert 'hx-trigger="every 1s"' in running.text
    async with worker(db_url):

        async def finished() -> Any:
            text = (await client.get(url + "/progress")).text
            return text if 'data-state="done"' in text else None

        text = await wait_until(finished, 20)
    assert text and "2 new customers, 0 merged" in text
    cur = await conn.execute(
        ann["tables"].query("SELECT phone, opted_in FROM {customers} ORDER BY phone")
    )
    assert await cur.fetchall() == [
        {"phone": "+33612345678", "opted_in": False},
        {"phone": "+4915123456789", "opted_in": True},
    ]
    cur = await conn.execute("SELECT data IS NULL AS freed FROM contact_imports")
    assert (await cur.fetchone())["freed"]


async def test_imports_of_another_workspace_are_404(client: Any, conn: Any) -> None:
    await user_with_password(conn, "ann@example.com")
    bob = await user_with_password(conn, "bob@example.com")
    cur = await conn.execute(
        "INSERT INTO contact_imports (agent_id, filename) VALUES (%s, 'b.csv') RETURNING id",
        (bob["agent"]["id"],),
    )
    other = (await cur.fetchone())["id"]
    csrf = await sign_in(client, "ann@example.com")
    assert (await client.get(f"/customers/import/{other}")).status_code == 404
    assert (
        await client.post(
            f"/customers/import/{other}/start", data={"csrf_token": csrf, "skip_invalid": "true"}
        )
    ).status_code == 404


async def test_stop_shows_in_the_customer_panel_and_agent_changes_it(
    client: Any, conn: Any
) -> None:
    from tests.helpers import configure_sandbox_number
    from tests.sandbox_fixture import DEFAULT_NUMBER, signed_inbound

    ann = await user_with_password(conn, "ann@example.com")
    await configure_sandbox_number(conn, ann["user"]["id"], DEFAULT_NUMBER)
    csrf = await sign_in(client, "ann@example.com")
    for text in ("Hello", "Stop!"):
        body, headers, _ = signed_inbound("text", text, phone="4915123456789")
        assert (
            await client.post("/webhooks/whatsapp", content=body, headers=headers)
        ).status_code == 200
    cur = await conn.execute(ann["tables"].query("SELECT id FROM {customers}"))
    customer = (await cur.fetchone())["id"]
    panel = await client.get(f"/chat/{customer}/panel")
    assert 'data-opted-in="False"' in panel.text and "keyword: STOP" in panel.text
    changed = await client.post(
        f"/customers/{customer}/opt-in", data={"csrf_token": csrf, "opted_in": "yes"}
    )
    assert (
        changed.status_code == 200
        and 'data-opted-in="True"' in changed.text
        and "(agent" in changed.text
    )
    assert (
        await client.post("/customers/999/opt-in", data={"csrf_token": csrf, "opted_in": "no"})
    ).status_code == 404
