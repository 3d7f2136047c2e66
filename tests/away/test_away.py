"""Away messages and greetings: business hours in the workspace's time zone with holidays, once
per conversation per N hours, a greeting for a first message, sent through the normal queue to
the sandbox and marked automatic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.broadcasts.conftest import graph_base  # noqa: F401 - fixture
from tests.helpers import configure_sandbox_number, make_agent_user
from tests.outbound.conftest import wait_until, worker
from tests.sandbox_fixture import DEFAULT_NUMBER, signed_inbound
from wacrm.away import service as away

ALWAYS = {d: ("00:00", "23:59") for d in away.DAYS}
NEVER: dict[str, tuple[str, str]] = {}


async def _shop(conn: Any, hours: dict[str, tuple[str, str]], **options: Any) -> dict[str, Any]:
    user = await make_agent_user(conn, "shop@example.com")
    await configure_sandbox_number(conn, user["user_id"], DEFAULT_NUMBER)
    settings = {
        "time_zone": "Europe/Berlin",
        "holidays": [],
        "away_enabled": True,
        "away_text": "We are closed; we answer tomorrow from 9:00.",
        "away_every_hours": 24,
        "greeting_enabled": False,
        "greeting_text": "",
    }
    settings.update(options)
    await away.save_settings(
        conn, agent_id=user["agent"]["id"], hours=away.parse_hours(hours), **settings
    )
    return user


async def _write(client: Any, text: str, phone: str = "4915123456789") -> None:
    body, headers, _ = signed_inbound("text", text, phone=phone)
    assert (
        await client.post("/webhooks/whatsapp", content=body, headers=headers)
    ).status_code == 200


async def _outbound(conn: Any, tables: Any) -> list[dict[str, Any]]:
    cur = await conn.execute(
        tables.query(
            "SELECT message, payload, status FROM {messages} WHERE direction = 'outbound' ORDER BY id"
        )
    )
    return await cur.fetchall()


async def test_away_message_outside_hours_once_per_window(
    client: Any, conn: Any, db_url: str, graph_base: Any
) -> None:  # noqa: F811
    graph_base.register_number()
    user = await _shop(conn, NEVER)
    await _write(client, "Hello?")
    await _write(client, "Anyone there?")
    await _write(client, "Hi", phone="4915123456700")
    for phone in ("4915123456789", "4915123456700"):  # the customers wrote (to the CRM directly)
        graph_base.open_window(phone)
    async with worker(db_url):

        async def sent() -> Any:
            rows = await _outbound(conn, user["tables"])
            return rows if len(rows) == 2 and all(r["status"] == "sent" for r in rows) else None

        rows = await wait_until(sent, 20)
    assert rows, await _outbound(conn, user["tables"])
    assert {r["message"] for r in rows} == {"We are closed; we answer tomorrow from 9:00."}
    assert all(r["payload"]["automatic"] == "away" for r in rows)
    assert graph_base.sent_messages()["count"] == 2
    # N hours later the conversation gets it again
    await conn.execute("UPDATE auto_replies_sent SET sent_at = now() - interval '25 hours'")
    await _write(client, "Still closed?")
    cur = await conn.execute("SELECT kind FROM auto_replies_due")
    assert [r["kind"] for r in await cur.fetchall()] == ["away"]


async def test_open_hours_holidays_and_time_zone(client: Any, conn: Any) -> None:
    user = await _shop(conn, ALWAYS)
    agent = user["agent"]["id"]
    assert await away.is_open(conn, agent_id=agent)
    await _write(client, "Hello")
    cur = await conn.execute("SELECT count(*) AS n FROM auto_replies_due")
    assert (await cur.fetchone())["n"] == 0
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    await conn.execute("UPDATE away_settings SET holidays = %s", ([today],))
    assert not await away.is_open(conn, agent_id=agent)
    # only this hour of Berlin's weekday open: open now, closed in Tokyo's time zone
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    hour = {str(now.isoweekday()): (f"{now.hour:02d}:00", f"{now.hour:02d}:59")}
    await away.save_settings(
        conn,
        agent_id=agent,
        time_zone="Europe/Berlin",
        hours=away.parse_hours(hour),
        holidays=[],
        away_enabled=True,
        away_text="closed",
        away_every_hours=24,
        greeting_enabled=False,
        greeting_text="",
    )
    assert await away.is_open(conn, agent_id=agent)
    await conn.execute("UPDATE agents SET time_zone = 'Asia/Tokyo' WHERE id = %s", (agent,))
    assert not await away.is_open(conn, agent_id=agent)


async def test_greeting_for_a_first_message_only(client: Any, conn: Any) -> None:
    user = await _shop(conn, ALWAYS, greeting_enabled=True, greeting_text="Welcome to the shop!")
    await _write(client, "Hello")
    await _write(client, "Second message")
    cur = await conn.execute("SELECT kind FROM auto_replies_due")
    assert [r["kind"] for r in await cur.fetchall()] == ["greeting"]
    assert await away.queue_due(conn) == 1
    rows = await _outbound(conn, user["tables"])
    assert [(r["message"], r["payload"]["automatic"]) for r in rows] == [
        ("Welcome to the shop!", "greeting")
    ]


def test_hours_and_holidays_are_checked() -> None:
    with pytest.raises(away.AwayError, match="closing time must be after"):
        away.parse_hours({"1": ("18:00", "09:00")})
    with pytest.raises(away.AwayError, match="HH:MM"):
        away.parse_hours({"2": ("9", "")})
    with pytest.raises(away.AwayError, match="not a date"):
        away.parse_holidays("2026-12-25 tomorrow")
    assert away.parse_holidays("2026-12-26, 2026-12-25") == [
        datetime(2026, 12, 25, tzinfo=UTC).date(),
        (datetime(2026, 12, 25, tzinfo=UTC) + timedelta(days=1)).date(),
    ]


async def test_settings_page(client: Any, conn: Any) -> None:
    import re

    from tests.web.conftest import sign_in, user_with_password

    ann = await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get("/settings/away")
    assert page.status_code == 200 and 'data-open="true"' in page.text  # no hours set: never "away"
    form = {
        "csrf_token": csrf,
        "time_zone": "America/Sao_Paulo",
        "open1": "18:00",
        "close1": "09:00",
        "away_enabled": "true",
        "away_text": "Closed",
        "away_every_hours": "12",
        "holidays": "2026-12-25",
    }
    bad = await client.post("/settings/away", data=form)
    assert bad.status_code == 422
    assert re.search(
        r'name="close1"[^>]*>\s*<span class="error field-error" role="alert">the closing time',
        bad.text,
    )
    assert 'value="18:00"' in bad.text  # kept
    no_text = await client.post("/settings/away", data={**form, "close1": "23:00", "away_text": ""})
    assert no_text.status_code == 422 and "write the away message" in no_text.text
    saved = await client.post("/settings/away", data={**form, "close1": "23:00"})
    assert saved.status_code == 303
    cur = await conn.execute(
        "SELECT s.hours, s.holidays, s.away_every_hours, a.time_zone FROM away_settings s JOIN agents a ON a.id = s.agent_id WHERE a.id = %s",
        (ann["agent"]["id"],),
    )
    row = await cur.fetchone()
    assert row["hours"]["1"] == [["18:00", "23:00"]] and row["hours"]["2"] == []
    assert str(row["holidays"][0]) == "2026-12-25" and row["away_every_hours"] == 12
    assert row["time_zone"] == "America/Sao_Paulo"


async def test_opt_words_settings(client: Any, conn: Any) -> None:
    from tests.web.conftest import sign_in, user_with_password

    ann = await user_with_password(conn, "ann@example.com")
    csrf = await sign_in(client, "ann@example.com")
    page = await client.get("/settings/away")
    assert "en: STOP, UNSUBSCRIBE, STOP ALL, OPT OUT" in page.text  # the defaults
    bad = await client.post(
        "/settings/away/opt-words",
        data={"csrf_token": csrf, "opt_out_words": "STOP", "opt_in_words": ""},
    )
    assert (
        bad.status_code == 422
        and "write each line as" in bad.text
        and ">STOP</textarea>" in bad.text
    )
    saved = await client.post(
        "/settings/away/opt-words",
        data={
            "csrf_token": csrf,
            "opt_out_words": "en: halt\nsv: stoppa, sluta",
            "opt_in_words": "",
        },
    )
    assert saved.status_code == 303
    cur = await conn.execute(
        "SELECT opt_out_words, opt_in_words FROM agents WHERE id = %s", (ann["agent"]["id"],)
    )
    row = await cur.fetchone()
    assert (
        row["opt_out_words"] == {"en": ["HALT"], "sv": ["SLUTA", "STOPPA"]}
        and row["opt_in_words"] is None
    )
    tables = ann["tables"]
    cur = await conn.execute(
        tables.query(
            "INSERT INTO {customers} (name, phone) VALUES ('A', '+4915123456781') RETURNING id"
        )
    )
    customer = (await cur.fetchone())["id"]
    await conn.execute(
        tables.query(
            "INSERT INTO {messages} (customer_id, message, direction) VALUES (%s, 'Sluta', 'inbound')"
        ),
        (customer,),
    )
    cur = await conn.execute(tables.query("SELECT opted_in FROM {customers}"))
    assert (await cur.fetchone())["opted_in"] is False
