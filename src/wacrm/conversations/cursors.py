"""Opaque keyset cursors: (timestamp or None, id) as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson

from wacrm.errors import AppError
from wacrm.i18n.text import Text

NOT_VALID = Text(
    "the cursor is not valid: pass back exactly the next_cursor value of the previous page"
)


class InvalidCursorError(AppError, ValueError):
    """A cursor that this server did not produce (or a damaged one): 400."""

    status = 400


def encode(at: datetime | None, row_id: int) -> str:
    raw = orjson.dumps([at.isoformat() if at is not None else None, row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime | None, int]:
    """Return (timestamp, id); raise InvalidCursorError for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, row_id = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        at = datetime.fromisoformat(at_text) if at_text is not None else None
    except (
        ValueError,
        TypeError,
        binascii.Error,
        orjson.JSONDecodeError,
        UnicodeEncodeError,
    ) as exc:
        raise InvalidCursorError(NOT_VALID) from exc
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id < 2**31:
        raise InvalidCursorError(NOT_VALID)
    if at is not None and at.tzinfo is None:
        raise InvalidCursorError(Text("the cursor is not valid: its time has no time zone"))
    return at, row_id
