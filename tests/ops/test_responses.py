"""The API's JSON formats stay what clients were given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from wacrm.ops.responses import OrjsonResponse


def test_datetimes_keep_their_offset_and_keys_become_strings() -> None:
    body = OrjsonResponse(
        {
            "at": datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC),
            "local": datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            7: None,
        }
    ).body
    assert body == (
        b'{"at":"2026-11-30T10:00:05+00:00","local":"2026-11-30T12:00:00+02:00","7":null}'
    )
