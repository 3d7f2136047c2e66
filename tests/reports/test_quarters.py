"""The all-agents dashboard's days follow the viewer's time zone (quarter-hour rollup, issue 17):
messages just around local midnight land on the right day in São Paulo (−03:00), Kolkata
(+05:30) and Kathmandu (+05:45), with more agents than are counted live, on recent and settled
days and on a DST day (Europe/Berlin, 23 hours); figures equal the live count of every agent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conversations.factory import add_customer, add_message, new_agent
from tests.reports.test_recent import FIGURES, _history
from wacrm.reports import everyone, recent
from wacrm.reports import service as reports

SECOND = timedelta(seconds=1)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)


def _count_on(report: dict[str, Any], day: date) -> int:
    return report["messages_in"][report["days"].index(day.isoformat())]


async def test_days_around_local_midnight_in_three_zones_with_many_agents(conn: Any) -> None:
    agents = [await new_agent(conn) for _ in range(reports.MAX_LIVE_AGENTS + 1)]
    today = datetime.now(UTC).date()
    recent_day, settled_day = today - timedelta(days=2), today - timedelta(days=30)
    zones = ("America/Sao_Paulo", "Asia/Kolkata", "Asia/Kathmandu")
    # per zone and day: one message a second before its local midnight, one at it, each written
    # by a different agent (the sums cross agents)
    k = 0
    for day in (recent_day, settled_day):
        for zone in zones:
            midnight = _midnight(day, zone)
            for at in (midnight - SECOND, midnight):
                tables = agents[k % len(agents)]
                cid = await add_customer(conn, tables, f"C{k}", phone=f"+49151555{k:05d}")
                await add_message(conn, tables, cid, "hi", at=at)
                k += 1
    await recent.run_cycle(conn)
    await recent.run_cycle(conn)  # an idle cycle changes nothing
    for zone in zones:
        for day in (recent_day, settled_day):
            got = await everyone.report(
                conn, start=day - timedelta(days=1), end=day + timedelta(days=1), zone=zone
            )
            assert got["as_of"]["agents"] == len(agents)
            # each zone's pair: the first on the evening before, the second on the day; the
            # other zones' messages fall at other hours of these days
            window = sum(got["messages_in"])
            assert _count_on(got, day - timedelta(days=1)) >= 1, (zone, day, got)
            assert _count_on(got, day) >= 1, (zone, day, got)
            mine = await everyone.report(conn, start=day, end=day, zone=zone)
            lo, hi = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
            expected = sum(
                1
                for d in (recent_day, settled_day)
                for z in zones
                for at in (_midnight(d, z) - SECOND, _midnight(d, z))
                if lo <= at < hi
            )
            assert mine["messages_in"] == [expected], (zone, day)
            assert window >= mine["totals"]["messages_in"]
    # the UTC view of the same rollup still counts UTC days
    utc = await everyone.report(conn, start=recent_day, end=recent_day)
    assert utc["totals"]["messages_in"] == sum(
        1
        for z in zones
        for at in (_midnight(recent_day, z) - SECOND, _midnight(recent_day, z))
        if at.date() == recent_day
    )


async def test_a_dst_day_has_23_hours_of_quarters(conn: Any) -> None:
    """Europe/Berlin, 29 March 2026: 02:00 became 03:00; its day ends at 22:00 UTC."""
    agents = [await new_agent(conn) for _ in range(2)]
    day = date(2026, 3, 29)
    end = _midnight(day + timedelta(days=1), "Europe/Berlin")
    assert end == datetime(2026, 3, 29, 22, tzinfo=UTC)
    for k, at in enumerate((_midnight(day, "Europe/Berlin"), end - SECOND, end)):
        cid = await add_customer(conn, agents[k % 2], f"D{k}", phone=f"+49151666{k:05d}")
        await add_message(conn, agents[k % 2], cid, "hallo", at=at)
    await recent.run_cycle(conn)
    got = await everyone.report(conn, start=day, end=day + timedelta(days=1), zone="Europe/Berlin")
    assert got["messages_in"] == [2, 1]


async def test_zone_days_equal_the_live_count_of_every_agent(conn: Any) -> None:
    """With a few agents both ways exist: the rollup's days of a zone, the median included, are
    the live count's."""
    agents = [await new_agent(conn) for _ in range(3)]
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for k, tables in enumerate(agents[:2]):
        await _history(conn, tables, k, now)
    await recent.run_cycle(conn)
    for zone in ("Asia/Kolkata", "Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Chatham"):
        today = now.astimezone(ZoneInfo(zone)).date()
        for first in (today - timedelta(days=6), today - timedelta(days=45)):
            got = await everyone.report(conn, start=first, end=today, zone=zone)
            want = await reports.report(conn, targets=agents, start=first, end=today, zone=zone)
            for key in FIGURES:
                assert got[key] == want[key], (zone, first, key)


def test_the_histogram_median_is_within_two_percent() -> None:
    import math
    import random
    import statistics

    rng = random.Random(17)
    for size in (1, 2, 3, 10, 1001, 50_000):
        values = [rng.lognormvariate(5, 1.5) for _ in range(size)]
        bins: dict[int, int] = {}
        for v in values:  # as wacrm_response_bin
            b = math.floor(math.log1p(v) * everyone.BINS_PER_LOG)
            bins[b] = bins.get(b, 0) + 1
        got = everyone.histogram_median(sorted(bins.items()))
        want = statistics.median(values)
        assert got is not None and abs(got - want) <= 0.021 * want + 0.5, (size, got, want)
    assert everyone.histogram_median([]) is None


async def test_many_replies_take_the_median_from_the_histograms(conn: Any, monkeypatch) -> None:
    """Beyond EXACT_MEDIAN_MAX replies the page reads histograms (days and edge quarters): the
    median stays within 2% of the exact one, in a zone whose days cut UTC days."""
    agents = [await new_agent(conn) for _ in range(2)]
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for k, tables in enumerate(agents):
        await _history(conn, tables, k, now)
    await recent.run_cycle(conn)
    zone = "Asia/Kathmandu"
    today = now.astimezone(ZoneInfo(zone)).date()
    first = today - timedelta(days=45)
    exact = await everyone.report(conn, start=first, end=today, zone=zone)
    monkeypatch.setattr(everyone, "EXACT_MEDIAN_MAX", 0)
    binned = await everyone.report(conn, start=first, end=today, zone=zone)
    assert binned["responses"] == exact["responses"] > 0
    want = exact["response_median_seconds"]
    assert abs(binned["response_median_seconds"] - want) <= 0.021 * want, (binned, want)
