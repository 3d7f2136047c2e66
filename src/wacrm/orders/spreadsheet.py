"""CSV cells a spreadsheet opens as text, whatever separator its locale uses (docs/security.md).

The rule, for every cell of every CSV export:
1. A number (`12.50`, `-3`, an E.164 phone `+4917612345678`) is written as it is: it can only
   ever be a number, so phones stay readable and exact.
2. Any other text gets `'` before a formula start (`= + - @`, their full-width forms, tab, CR,
   LF) at its beginning and after every separator a spreadsheet may split on (`,` `;` tab, line
   breaks), spaces in between included: `Ana;=1+41` becomes `Ana;'=1+41`.
3. A cell containing a separator, a quote or a line break is quoted (RFC 4180, `"` doubled), so
   Excel in a `;` locale (German, French) keeps it in one cell too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
FORMULA_AT_START = re.compile(r"^( *)(?=[=+\-@\t\r\n＝＋－＠])")
FORMULA_AFTER_SEPARATOR = re.compile(r"(?<=[,;\t\r\n])( *)(?=[=+\-@＝＋－＠])")
NEEDS_QUOTES = re.compile(r'[,;\t\r\n"]')


def cell(value: Any) -> str:
    """One CSV cell by the rule above (None: empty)."""
    if value is None:
        return ""
    text = str(value)
    if not isinstance(value, str) or NUMBER.fullmatch(text):
        return text
    text = FORMULA_AT_START.sub(r"\1'", text, count=1)
    text = FORMULA_AFTER_SEPARATOR.sub(r"\1'", text)
    if NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def line(values: Iterable[Any]) -> str:
    """A CSV line (comma-separated, CRLF) of cells by the rule."""
    return ",".join(cell(v) for v in values) + "\r\n"
