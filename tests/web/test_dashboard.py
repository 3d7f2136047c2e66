"""The dashboard: figures per agent and for all agents (admins), the period, the chart data, bad input."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

from tests.conversations.factory import add_customer, add_message
from tests.web.conftest import sign_in, user_with_password
from wacrm.orders import service as orders
from wacrm.reports import recent
from wacrm.reports import service as reports


def chart_of(text: str) -> dict:
    raw = re.search(r"data-report='([^']*)'", text).group(1)
    return json.loads(html.unescape(raw))


async def _traffic(conn, tables, phone: str, *, today: datetime) -> int:
    """Two conversations: replies after 60 s and after 300 s (median 180 s); an order."""
    cid = await add_customer(conn, tables, "Greta", phone=phone)
    day = today - timedelta(days=1)
    await add_message(conn, tables, cid, "hi", at=day)
    await add_message(conn, tables, cid, "anyone?", at=day + timedelta(seconds=30))  # same run
    await add_message(
        conn, tables, cid, "hello", direction="outbound", at=day + timedelta(seconds=60)
    )
    await add_message(conn, tables, cid, "price?", at=day + timedelta(hours=1))
    await add_message(
        conn, tables, cid, "10 EUR", direction="outbound", at=day + timedelta(hours=1, seconds=300)
    )
    await add_message(conn, tables, cid, "unanswered", at=day + timedelta(hours=2))
    order = await orders.create_order(
        conn,
        tables=tables,
        customer_id=cid,
        items=[{"name": "Shoe", "quantity": 2, "price": "10.00"}],
    )
    return order["id"]


async def test_agent_dashboard_numbers_and_chart_data(client, conn):
    ann = await user_with_password(conn, "ann@example.com")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    await _traffic(conn, ann["tables"], "+4915100000001", today=today)
    old = await add_customer(conn, ann["tables"], "Old", phone="+4915100000009")
    await add_message(conn, ann["tables"], old, "long ago", at=today - timedelta(days=200))
    await sign_in(client, "ann@example.com")
    page = await client.get("/dashboard", params={"days": "7"})
    assert page.status_code == 200
    assert 'id="stat-in">4<' in page.text and 'id="stat-out">2<' in page.text
    assert 'id="stat-response">3 min<' in page.text and "(2 replies)" in page.text
    assert "first message after a reply (or their first message ever)" in page.text
    assert 'id="stat-orders">1<' in page.text and "20.00" in page.text
    chart = chart_of(page.text)
    yesterday = (today - timedelta(days=1)).date().isoformat()
    assert len(chart["days"]) == 7 and chart["days"][-1] == today.date().isoformat()
    i = chart["days"].index(yesterday)
    assert (
        chart["messagesIn"][i] == 4
        and chart["messagesOut"][i] == 2
        and sum(chart["messagesIn"]) == 4
    )
    assert sum(chart["newCustomers"]) == 2  # created now by the factory, inside the period
    assert chart["orders"] == [
        {
            "status": "pending",
            "statusLabel": "pending",
            "currency": chart["orders"][0]["currency"],
            "count": 1,
            "total": 20.0,
        }
    ]
    assert "<script>" not in page.text and "/static/dashboard.js" in page.text
    custom = await client.get(
        "/dashboard", params={"days": "custom", "from": "2020-01-01", "to": "2020-01-31"}
    )
    assert 'id="stat-in">0<' in custom.text and len(chart_of(custom.text)["days"]) == 31


async def test_all_agents_for_admins_only_and_bad_periods(client, conn, monkeypatch):
    ann = await user_with_password(conn, "ann@example.com")
    bea = await user_with_password(conn, "bea@example.com")
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    await _traffic(conn, ann["tables"], "+4915100000001", today=today)
    await _traffic(conn, bea["tables"], "+4915100000002", today=today)
    await sign_in(client, "ann@example.com")
    assert (await client.get("/dashboard", params={"agents": "all"})).status_code == 404
    for params in (
        {"days": "5"},
        {"days": "custom", "from": "2026-02-01", "to": "2026-01-01"},
        {"days": "custom", "from": "2020-01-01", "to": "2026-01-01"},
        {"days": "custom", "from": "yesterday", "to": "2026-01-01"},
        {"days": "custom"},
    ):
        assert 400 <= (await client.get("/dashboard", params=params)).status_code < 500, params
    await sign_in(client, "root@example.com")
    # a few agents: counted now, in the viewer's days
    live = await client.get("/dashboard", params={"agents": "all", "days": "30"})
    assert live.status_code == 200 and "counted now" in live.text
    assert 'id="stat-in">8<' in live.text and "(4 replies)" in live.text
    # more agents than are counted live: the shared rollup, in the viewer's days too
    monkeypatch.setattr(reports, "MAX_LIVE_AGENTS", 1)
    client.cookies.set("wacrm_tz", "America/Sao_Paulo")
    before = await client.get("/dashboard", params={"agents": "all", "days": "30"})
    assert before.status_code == 200 and "2 not counted yet" in before.text
    assert 'data-zone="America/Sao_Paulo"' in before.text
    assert 'id="stat-in">0<' in before.text  # all agents: as of the rollup job's last count
    await recent.run_cycle(conn)  # the workers' periodic job
    everyone = await client.get("/dashboard", params={"agents": "all", "days": "30"})
    assert everyone.status_code == 200 and "not counted yet" not in everyone.text
    assert 'id="stat-in">8<' in everyone.text and "(4 replies)" in everyone.text
    assert chart_of(everyone.text)["orders"][0]["count"] == 2
    one = await client.get("/dashboard", params={"days": "30"})
    assert 'id="stat-in">4<' in one.text and 'data-zone="America/Sao_Paulo"' in one.text


async def test_all_agents_days_follow_the_viewers_zone(client, conn):
    """01:30 UTC is the evening before in São Paulo: the admin's all-agents chart counts it there."""
    ann = await user_with_password(conn, "ann@example.com")
    bea = await user_with_password(conn, "bea@example.com")
    await user_with_password(conn, "root@example.com", role="admin", agent=False)
    late = datetime.now(UTC).replace(hour=1, minute=30, second=0, microsecond=0) - timedelta(days=2)
    for who, phone in ((ann, "+4915100000001"), (bea, "+4915100000002")):
        cid = await add_customer(conn, who["tables"], "Greta", phone=phone)
        await add_message(conn, who["tables"], cid, "boa noite", at=late)
    await sign_in(client, "root@example.com")
    client.cookies.set("wacrm_tz", "America/Sao_Paulo")
    page = await client.get("/dashboard", params={"agents": "all", "days": "7"})
    assert 'data-zone="America/Sao_Paulo"' in page.text
    chart = chart_of(page.text)
    local_day = (late - timedelta(hours=3)).date().isoformat()
    assert chart["messagesIn"][chart["days"].index(local_day)] == 2
    assert sum(chart["messagesIn"]) == 2


async def test_report_reads_only_the_period_with_indexes(conn):
    ann = await user_with_password(conn, "ann@example.com")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    await _traffic(conn, ann["tables"], "+4915100000001", today=today)
    empty = await reports.report(conn, targets=[], start=today.date(), end=today.date())
    assert empty["totals"]["messages_in"] == 0
    await conn.execute("SET enable_seqscan = off")
    cur = await conn.execute(
        ann["tables"].query(
            "EXPLAIN SELECT count(*) FROM {messages} WHERE \"timestamp\" >= now() - interval '7 days'"
        )
    )
    plan = " ".join(r["QUERY PLAN"] for r in await cur.fetchall())
    assert "_messages_time_idx" in plan


async def test_reversed_range_is_a_form_error_inside_the_layout(client, conn):
    await user_with_password(conn, "range@example.com")
    await sign_in(client, "range@example.com")
    for params in (
        {"days": "custom", "from": "2026-02-01", "to": "2026-01-01"},
        {"days": "7", "from": "2026-02-01", "to": "2026-01-01"},  # edited under a preset
    ):
        r = await client.get("/dashboard", params=params)
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("text/html")
        assert '<header class="topbar">' in r.text  # the app's layout, not a JSON page
        assert (
            'id="period-error"' in r.text and "From (2026-02-01) is after To (2026-01-01)" in r.text
        )
        html = r.text
        assert html.index('name="to"') < html.index('id="period-error"')  # next to the dates
        assert 'value="2026-02-01"' in html and 'value="2026-01-01"' in html  # kept
        assert 'value="custom" selected' in html


async def test_dates_edited_while_a_preset_is_selected_are_honoured(client, conn):
    await user_with_password(conn, "edited@example.com")
    await sign_in(client, "edited@example.com")
    r = await client.get(
        "/dashboard", params={"days": "7", "from": "2020-01-01", "to": "2020-01-31"}
    )
    assert r.status_code == 200
    assert len(chart_of(r.text)["days"]) == 31 and 'value="custom" selected' in r.text
    today = datetime.now(UTC).date()
    preset = {"days": "30", "from": (today - timedelta(days=6)).isoformat(), "to": str(today)}
    same = await client.get("/dashboard", params={**preset, "days": "7"})
    assert len(chart_of(same.text)["days"]) == 7  # the preset's own dates: the preset stays
    assert 'value="7" selected' in same.text
