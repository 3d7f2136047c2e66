"""`python -m wacrm.i18n.check`: every catalog has every string of messages.pot, translated."""

from __future__ import annotations

import string
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from wacrm.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


PACKAGE = Path(__file__).resolve().parents[1]
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_": None,
    "N_": None,
    "Text": None,  # wacrm.i18n.text.Text: messages translated when shown (errors of services)
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
}


def source_messages(package: Path = PACKAGE) -> dict[str, tuple[str | tuple[str, ...], str | None]]:
    """Every gettext string in the code and templates now (as `make i18n` extracts them):
    msgid → (id, context)."""
    method_map = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found: dict[str, tuple[str | tuple[str, ...], str | None]] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(package), method_map, options, keywords=KEYWORDS, comment_tags=()
    ):
        key = message if isinstance(message, str) else message[0]
        if key:
            found[key] = (message, context)
    return found


def problems(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """What is missing or untranslated, one line per problem (empty: all complete)."""
    template = _read(locale_dir / "messages.pot")
    wanted = {m.id if isinstance(m.id, str) else m.id[0]: m for m in template if m.id}
    for key, (text, context) in source_messages().items():
        if key not in wanted:
            wanted[key] = Message(text, context=context)
    found: list[str] = []
    for language in LANGUAGES:
        path = locale_dir / language / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            found.append(f"{language}: no catalog at {path}")
            continue
        catalog = _read(path, language)
        for key, wanted_message in wanted.items():
            entry = catalog.get(wanted_message.id, wanted_message.context)
            if language == DEFAULT_LANGUAGE:
                continue  # English is the source language: its msgids are its texts
            if entry is None:
                found.append(f"{language}: missing {key!r} (run make i18n)")
            elif entry.fuzzy or not _translated(entry.string):
                found.append(f"{language}: untranslated {key!r}")
            elif _fields(key) != _fields(entry.string):
                found.append(f"{language}: the translation of {key!r} changes its {{names}}")
    return found


def _fields(text: object) -> set[str]:
    """The `{name}` placeholders of a Text msgid (none for a text that is no format string)."""
    if not isinstance(text, str) or "{" not in text:
        return set()
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"(not a format string)"}


def _translated(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, str) and v.strip() for v in value)
    return isinstance(value, str) and bool(value.strip())


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    if not found:
        print(f"{len(LANGUAGES)} catalogs complete")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
