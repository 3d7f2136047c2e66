"""Languages, time zones and locale formatting (Babel) for whoever is looking at a page.

The catalogs are the `.po` files under `locale/` (the source of truth, kept in git); they are
compiled in memory when first needed, so a fresh clone needs no build step. `make i18n` extracts
new strings from the code and templates and merges them into every catalog.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "en"
# The languages with a complete catalog, as they call themselves (the language picker).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "de": "Deutsch",
}


def normalize_language(value: str | None) -> str | None:
    """'pt-BR', 'pt_br', 'pt' → 'pt_BR'; 'de-AT' → 'de'; None when not one of LANGUAGES."""
    if not value:
        return None
    value = value.strip().replace("-", "_")
    lang, _, region = value.partition("_")
    exact = f"{lang.lower()}_{region.upper()}" if region else lang.lower()
    if exact in LANGUAGES:
        return exact
    for code in LANGUAGES:  # a language whose only catalog is regional (pt → pt_BR)
        if code.split("_")[0] == lang.lower():
            return code
    return None


def negotiate(accept_language: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language header (by q-value), else English."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = normalize_language(tag)
        if code and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def valid_time_zone(name: str | None) -> str | None:
    """The IANA name when it is a known zone, else None."""
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@cache
def time_zone_names() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/")) + [
        "UTC"
    ]


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of a language (English: the msgids themselves)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer)


@dataclass
class Viewer:
    """Who looks at the page being rendered: language, time zone and alert preferences."""

    language: str = DEFAULT_LANGUAGE
    time_zone: str = "UTC"
    time_zone_chosen: bool = False  # the user set it (else it is the browser's, or UTC)
    alert_sound: bool = True
    alert_desktop: bool = True
    loaded: set[str] = field(default_factory=set)

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.time_zone) if self.time_zone != "UTC" else UTC

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    @property
    def html_lang(self) -> str:
        return self.language.replace("_", "-")


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    """Babel's locale of a language, parsed once (every date and number on a page asks for it)."""
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LANGUAGE)


_viewer: contextvars.ContextVar[Viewer | None] = contextvars.ContextVar("viewer", default=None)


def viewer() -> Viewer:
    """The current request's viewer (a default English/UTC one outside a request)."""
    current = _viewer.get()
    if current is None:
        current = Viewer()
        _viewer.set(current)
    return current


def set_viewer(value: Viewer) -> contextvars.Token[Viewer | None]:
    return _viewer.set(value)


def reset_viewer(token: contextvars.Token[Viewer | None]) -> None:
    _viewer.reset(token)


def gettext(message: str) -> str:
    return translations(viewer().language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(viewer().language).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return str(translations(viewer().language).pgettext(context, message))


def local(value: datetime) -> datetime:
    """An instant in the viewer's time zone (stored data stays UTC)."""
    return value.astimezone(viewer().tz)


def format_time(value: datetime | None) -> str:
    return dates.format_time(local(value), "short", locale=viewer().locale) if value else ""


def format_day(value: datetime | date | None) -> str:
    """A day with its weekday ('Sat, Dec 5, 2026'; 'sáb., 5 dic. 2026')."""
    if value is None:
        return ""
    day = local(value).date() if isinstance(value, datetime) else value
    return _format_skeleton("yMMMEd", day)


def format_date(value: datetime | date | None, format: str = "medium") -> str:
    if value is None:
        return ""
    day = local(value).date() if isinstance(value, datetime) else value
    return dates.format_date(day, format, locale=viewer().locale)


def format_datetime(value: datetime | None) -> str:
    return f"{format_day(value)} {format_time(value)}" if value else ""


def format_short_when(value: datetime | None) -> str:
    """Time today, else the day and month (this year), else the date (the inbox column)."""
    if value is None:
        return ""
    moment, today = local(value), datetime.now(UTC).astimezone(viewer().tz).date()
    if moment.date() == today:
        return format_time(value)
    skeleton = "MMMd" if moment.year == today.year else "yMMMd"
    return _format_skeleton(skeleton, moment.date())


@lru_cache(maxsize=256)
def _skeleton_pattern(language: str, skeleton: str) -> dates.DateTimePattern:
    """The locale's pattern for a skeleton, matched once (the inbox formats one a row)."""
    skeletons = _locale(language).datetime_skeletons
    return skeletons[dates.match_skeleton(skeleton, skeletons) or skeleton]


def _format_skeleton(skeleton: str, day: date) -> str:
    """A day in the viewer's language by a date-only skeleton, as Babel's format_skeleton."""
    language = viewer().language
    return str(_skeleton_pattern(language, skeleton).apply(day, _locale(language)))


def format_number(value: int | float | Decimal | None) -> str:
    return "" if value is None else numbers.format_decimal(value, locale=viewer().locale)


def format_money(value: int | float | Decimal | str | None, currency: str | None) -> str:
    """An amount with its currency for the viewer's locale ('R$ 1.234,50', '1.234,50 €')."""
    if value is None or value == "":
        return ""
    return numbers.format_currency(
        Decimal(str(value)), (currency or "USD").upper(), locale=viewer().locale
    )


def zone_label(name: str) -> str:
    """'America/Sao_Paulo' → 'America/Sao Paulo (UTC−03:00)' in the viewer's language."""
    offset = datetime.now(ZoneInfo(name) if name != "UTC" else UTC).strftime("%z")
    sign = "−" if offset.startswith("-") else "+"
    return f"{name.replace('_', ' ')} (UTC{sign}{offset[1:3]}:{offset[3:5]})"


@contextlib.contextmanager
def in_language(language: str) -> Iterator[None]:
    """Translate and format in another language for a moment (what a customer receives is in the
    workspace's language, whoever triggered it)."""
    current = viewer()
    saved = current.language
    current.language = normalize_language(language) or DEFAULT_LANGUAGE
    try:
        yield
    finally:
        current.language = saved
