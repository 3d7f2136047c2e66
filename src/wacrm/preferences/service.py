"""Read and save a user's preferences (columns of `users`, migration 0070)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from wacrm.errors import AppError
from wacrm.i18n import LANGUAGES, normalize_language, valid_time_zone
from wacrm.i18n import gettext as _


class PreferencesError(AppError, ValueError):
    """A preference value that cannot be saved (400); `field` names the form field."""

    field: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


async def load(conn: AsyncConnection[Any], user_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT language, time_zone, alert_sound, alert_desktop FROM users WHERE id = %s",
        (user_id,),
    )
    return await cur.fetchone()


async def save(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    language: str,
    time_zone: str,
    alert_sound: bool,
    alert_desktop: bool,
) -> dict[str, Any]:
    """Save the preferences; an empty language or time zone means "from the browser"."""
    chosen_language = normalize_language(language) if language else None
    if language and chosen_language is None:
        raise PreferencesError(
            "language", _("Choose one of: %(list)s.") % {"list": ", ".join(LANGUAGES.values())}
        )
    chosen_zone = valid_time_zone(time_zone) if time_zone else None
    if time_zone and chosen_zone is None:
        raise PreferencesError(
            "time_zone",
            _("“%(zone)s” is not a known time zone; choose one such as Europe/Berlin.")
            % {"zone": time_zone[:64]},
        )
    cur = await conn.execute(
        "UPDATE users SET language = %s, time_zone = %s, alert_sound = %s, alert_desktop = %s,"
        " updated_at = now() WHERE id = %s"
        " RETURNING language, time_zone, alert_sound, alert_desktop",
        (chosen_language, chosen_zone, alert_sound, alert_desktop, user_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return row
