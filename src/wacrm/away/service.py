"""Business hours, away message and greeting settings of a workspace; queueing the due messages."""

from __future__ import annotations

import json
import re
from datetime import date, time
from typing import Any

from psycopg import AsyncConnection

from wacrm import i18n
from wacrm.agents.tables import AgentTables
from wacrm.errors import AppError
from wacrm.i18n.text import Text
from wacrm.outbound.schemas import TextContent
from wacrm.outbound.service import OutboundError, queue_message

DAYS = ("1", "2", "3", "4", "5", "6", "7")  # ISO weekdays, Monday first
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AwayError(AppError):
    """A business-hours or away setting that cannot be saved (422); `field` is the form field."""

    status = 422

    field: str

    def __init__(self, message: str | Text, field: str) -> None:
        super().__init__(message, field=field)


async def get_settings(conn: AsyncConnection[Any], *, agent_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        """SELECT s.*, a.time_zone FROM agents a LEFT JOIN away_settings s ON s.agent_id = a.id
           WHERE a.id = %s""",
        (agent_id,),
    )
    row = dict(await cur.fetchone() or {})
    row.setdefault("hours", None)
    row["hours"] = row.get("hours") or {}
    row["holidays"] = row.get("holidays") or []
    row["away_every_hours"] = row.get("away_every_hours") or 24
    return row


def parse_hours(ranges: dict[str, tuple[str, str]]) -> dict[str, list[list[str]]]:
    """{ISO weekday: (opens, closes)} with empty times for closed days; AwayError on bad ranges."""
    out: dict[str, list[list[str]]] = {}
    for day in DAYS:
        opens, closes = (x.strip() for x in ranges.get(day, ("", "")))
        if not opens and not closes:
            out[day] = []
            continue
        if not (HHMM.match(opens) and HHMM.match(closes)):
            raise AwayError(
                Text("give both times as HH:MM, or leave both empty for a closed day"), f"day{day}"
            )
        if time.fromisoformat(opens) >= time.fromisoformat(closes):
            raise AwayError(Text("the closing time must be after the opening time"), f"day{day}")
        out[day] = [[opens, closes]]
    return out


def parse_holidays(text: str) -> list[date]:
    days = []
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            raise AwayError(
                Text("{value} is not a date like 2026-12-25", value=repr(part)), "holidays"
            ) from None
    return sorted(set(days))


async def save_settings(
    conn: AsyncConnection[Any],
    *,
    agent_id: int,
    time_zone: str,
    hours: dict[str, list[list[str]]],
    holidays: list[date],
    away_enabled: bool,
    away_text: str,
    away_every_hours: int,
    greeting_enabled: bool,
    greeting_text: str,
) -> None:
    """Save the workspace's hours and texts (checked: a time zone that exists, texts when enabled)."""
    zone = i18n.valid_time_zone(time_zone.strip() or "UTC")
    if zone is None:
        raise AwayError(Text("choose a time zone from the list"), "time_zone")
    if away_enabled and not away_text.strip():
        raise AwayError(Text("write the away message, or switch it off"), "away_text")
    if greeting_enabled and not greeting_text.strip():
        raise AwayError(Text("write the greeting, or switch it off"), "greeting_text")
    if not 1 <= away_every_hours <= 720:
        raise AwayError(Text("between 1 and 720 hours"), "away_every_hours")
    for field, text in (("away_text", away_text), ("greeting_text", greeting_text)):
        if len(text) > 4096:
            raise AwayError(Text("at most 4,096 characters"), field)
    async with conn.transaction():
        await conn.execute("UPDATE agents SET time_zone = %s WHERE id = %s", (zone, agent_id))
        await conn.execute(
            """INSERT INTO away_settings (agent_id, away_enabled, hours, holidays, away_text,
                 away_every_hours, greeting_enabled, greeting_text, updated_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (agent_id) DO UPDATE SET away_enabled = EXCLUDED.away_enabled,
                 hours = EXCLUDED.hours, holidays = EXCLUDED.holidays, away_text = EXCLUDED.away_text,
                 away_every_hours = EXCLUDED.away_every_hours,
                 greeting_enabled = EXCLUDED.greeting_enabled,
                 greeting_text = EXCLUDED.greeting_text, updated_at = now()""",
            (
                agent_id,
                away_enabled,
                json.dumps(hours),
                holidays,
                away_text.strip() or None,
                away_every_hours,
                greeting_enabled,
                greeting_text.strip() or None,
            ),
        )


async def is_open(conn: AsyncConnection[Any], *, agent_id: int) -> bool:
    cur = await conn.execute("SELECT wacrm_business_open(%s, now()) AS open", (agent_id,))
    row = await cur.fetchone()
    return bool(row and row["open"])


_CLAIM = """
DELETE FROM auto_replies_due WHERE id IN (
  SELECT id FROM auto_replies_due ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING agent_id, customer_id, kind
"""


async def queue_due(conn: AsyncConnection[Any], *, limit: int = 100) -> int:
    """Queue the waiting greetings and away messages as outbound messages marked automatic."""
    async with conn.transaction():
        cur = await conn.execute(_CLAIM, (limit,))
        due = await cur.fetchall()
        for item in sorted(due, key=lambda d: (d["kind"] != "greeting",)):
            cur = await conn.execute(
                """SELECT a.agent_prefix, s.away_text, s.greeting_text FROM agents a
                   JOIN away_settings s ON s.agent_id = a.id WHERE a.id = %s""",
                (item["agent_id"],),
            )
            row = await cur.fetchone()
            text = row and (
                row["greeting_text"] if item["kind"] == "greeting" else row["away_text"]
            )
            if not row or not text:
                continue
            tables = AgentTables(item["agent_id"], row["agent_prefix"])
            try:
                async with conn.transaction():
                    message = await queue_message(
                        conn,
                        tables=tables,
                        agent_id=item["agent_id"],
                        customer_id=item["customer_id"],
                        content=TextContent(body=text),
                        sent_by=None,
                    )
                    await conn.execute(
                        tables.query(
                            "UPDATE {messages} SET payload = payload || %s::jsonb WHERE id = %s"
                        ),
                        (json.dumps({"automatic": item["kind"]}), message["id"]),
                    )
            except OutboundError:
                continue  # the customer is gone or cannot be written to: nothing to send
    return len(due)
