"""`python -m wacrm.i18n.check`: every catalog has every string of messages.pot, translated."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from wacrm.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def problems(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """What is missing or untranslated, one line per problem (empty: all complete)."""
    template = _read(locale_dir / "messages.pot")
    wanted = {m.id if isinstance(m.id, str) else m.id[0]: m for m in template if m.id}
    found: list[str] = []
    for language in LANGUAGES:
        path = locale_dir / language / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            found.append(f"{language}: no catalog at {path}")
            continue
        catalog = _read(path, language)
        for key, message in wanted.items():
            entry = catalog.get(message.id, message.context)
            if entry is None:
                found.append(f"{language}: missing {key!r} (run make i18n)")
            elif language == DEFAULT_LANGUAGE:
                continue  # English is the source language: its msgids are its texts
            elif entry.fuzzy or not _translated(entry.string):
                found.append(f"{language}: untranslated {key!r}")
    return found


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
