"""The vendored emoji picker (emoji-picker-element): the CSP hash of the one <style> it injects.

The package puts its styles in a <style> element of its shadow root; the pages' CSP allows no
inline style, so that exact text is allowed by its hash, read from the vendored file unmodified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path

PICKER = Path(__file__).parent / "static" / "vendor" / "emoji-picker-element" / "picker.js"
DATA_URL = "/static/vendor/emoji-picker-element-data/data.json"
_BASE = re.compile(r'^var baseStyles = (".*");$', re.MULTILINE)
_FONT = re.compile(r"^const FONT_FAMILY = '([^']*)' \+\s*'([^']*)';", re.MULTILINE)


@cache
def picker_style_hash() -> str | None:
    """ "'sha256-…'" of the picker's style text, or None when the file is not as expected."""
    try:
        source = PICKER.read_text(encoding="utf-8")
    except OSError:
        return None
    base, font = _BASE.search(source), _FONT.search(source)
    if base is None or font is None:
        return None
    text = (
        json.loads(base.group(1))
        + ":host{--emoji-font-family:"
        + font.group(1)
        + font.group(2)
        + "}"
    )
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"
