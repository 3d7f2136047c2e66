"""Messages translated when they are shown, not when they are made.

A service does not know who will read its error: it raises `SomeError(Text("no order with id
{id}", id=7))`. `str()` of the Text (and so of the exception) is the message in the language of
whoever is looking (the request's viewer), with its values formatted for them (an instant in their
time zone); `english()` is the message as written, for the JSON API and logs. `make i18n` extracts
`Text("…")` like `_("…")`, and `make i18n-check` fails when a translation drops or renames a
`{name}` of its msgid.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from wacrm import i18n

log = logging.getLogger(__name__)


class Text:
    """A msgid (English, `{name}` placeholders for the values) and its values, translated by str()."""

    __slots__ = ("msgid", "values")

    def __init__(self, msgid: str, /, **values: Any) -> None:
        self.msgid = msgid
        self.values = values

    def english(self) -> str:
        """The message as written (the JSON API's `detail`, logs): instants in UTC, ISO 8601."""
        values = {k: _plain(v) for k, v in self.values.items()}
        return _fill(self.msgid, self.msgid, values)

    def __str__(self) -> str:
        values = {k: _for_viewer(v) for k, v in self.values.items()}
        return _fill(i18n.gettext(self.msgid), self.msgid, values)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __html__(self) -> str:  # Jinja2 escapes what str() gives, in the viewer's language
        from markupsafe import escape

        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, **{self.values!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return (self.msgid, self.values) == (other.msgid, other.values)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)


def english(message: object) -> str:
    """A message (a Text or a plain string) as written, whatever the viewer's language."""
    return message.english() if isinstance(message, Text) else str(message)


def _fill(template: str, msgid: str, values: dict[str, str]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):  # a broken translation: the msgid still reads
        if template is msgid:
            raise
        log.warning("translation of %r does not fit its values; shown in English", msgid)
        return msgid.format(**values)


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):  # a list of values, each shown as itself
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, Text):
        return value.english()
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return str(value)


def _for_viewer(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_for_viewer(v) for v in value)
    if isinstance(value, datetime):
        return i18n.format_datetime(value)
    return str(value)
