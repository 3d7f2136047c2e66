"""Pydantic's validation errors in the viewer's language, by the error's `type` and its `ctx`.

Pydantic writes its sentences in English ("Input should be a valid integer"); pages show
`message(error)` instead: a `Text` chosen by the error's type code, filled with its ctx values
(`{min_length}`, `{gt}`, ...). A validator of ours that raises `ValueError(Text(...))` is shown as
that Text. The JSON API keeps pydantic's own English `msg`.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text

NOT_VALID = N_("this value is not valid")
MESSAGES: dict[str, str] = {
    "missing": N_("this field is required"),
    "string_type": N_("write some text"),
    "string_too_short": N_("too short: write at least {min_length} characters"),
    "string_too_long": N_("too long: write at most {max_length} characters"),
    "string_pattern_mismatch": N_("this is not in the expected format"),
    "string_unicode": N_("write text, not binary data"),
    "int_parsing": N_("write a whole number"),
    "int_type": N_("write a whole number"),
    "int_from_float": N_("write a whole number, without decimals"),
    "int_parsing_size": N_("this number is too large"),
    "float_parsing": N_("write a number"),
    "float_type": N_("write a number"),
    "finite_number": N_("write a finite number"),
    "decimal_parsing": N_("write a number"),
    "decimal_type": N_("write a number"),
    "decimal_max_digits": N_("at most {max_digits} digits in all"),
    "decimal_max_places": N_("at most {decimal_places} digits after the decimal point"),
    "decimal_whole_digits": N_("at most {whole_digits} digits before the decimal point"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be {ge} or more"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be {le} or less"),
    "multiple_of": N_("must be a multiple of {multiple_of}"),
    "bool_parsing": N_("answer yes or no"),
    "bool_type": N_("answer yes or no"),
    "date_parsing": N_("write a date like 2026-01-31"),
    "date_from_datetime_parsing": N_("write a date like 2026-01-31"),
    "date_from_datetime_inexact": N_("write a date without a time"),
    "date_type": N_("write a date like 2026-01-31"),
    "date_past": N_("the date must be in the past"),
    "date_future": N_("the date must be in the future"),
    "datetime_parsing": N_("write a date and time like 2026-01-31 14:30"),
    "datetime_from_date_parsing": N_("write a date and time like 2026-01-31 14:30"),
    "datetime_type": N_("write a date and time like 2026-01-31 14:30"),
    "datetime_past": N_("the time must be in the past"),
    "datetime_future": N_("the time must be in the future"),
    "timezone_aware": N_("give the time with its time zone"),
    "timezone_naive": N_("give the time without a time zone"),
    "time_parsing": N_("write a time like 14:30"),
    "time_type": N_("write a time like 14:30"),
    "uuid_parsing": N_("this is not a valid identifier"),
    "uuid_type": N_("this is not a valid identifier"),
    "literal_error": N_("choose one of: {expected}"),
    "enum": N_("choose one of: {expected}"),
    "too_short": N_("give at least {min_length} items"),
    "too_long": N_("give at most {max_length} items"),
    "list_type": N_("give a list"),
    "dict_type": N_("give an object"),
    "model_type": N_("give an object"),
    "url_parsing": N_("write a web address like https://example.com"),
    "url_type": N_("write a web address like https://example.com"),
    "url_scheme": N_("the address must start with {expected_schemes}"),
    "url_too_long": N_("the address is too long: at most {max_length} characters"),
    "json_invalid": N_("this is not valid JSON"),
    "json_type": N_("this is not valid JSON"),
    "extra_forbidden": N_("this field is not expected here"),
    "none_required": N_("leave this field empty"),
    "bytes_too_short": N_("too short: at least {min_length} bytes"),
    "bytes_too_long": N_("too large: at most {max_length} bytes"),
    "value_error": NOT_VALID,
    "assertion_error": NOT_VALID,
}


def message(error: Mapping[str, Any]) -> Text:
    """One pydantic error (an item of `ValidationError.errors()`) as a translatable Text."""
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, Exception) and cause.args and isinstance(cause.args[0], Text):
        return cause.args[0]  # our own validator's message, already translatable
    msgid = MESSAGES.get(str(error.get("type")), NOT_VALID)
    names = {name for _, name, _, _ in string.Formatter().parse(msgid) if name}
    if not names <= ctx.keys():
        return Text(NOT_VALID)
    return Text(msgid, **{name: _shown(ctx[name]) for name in names})


def _shown(value: Any) -> Any:
    """A ctx value as people read it (pydantic gives the allowed values as "'a' or 'b'")."""
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return value


def first_message(errors: list[Any]) -> tuple[str | None, Text]:
    """The field (the last part of its location, past body/query/form) and message of the first
    error of `ValidationError.errors()`."""
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "form", "header", "cookie"):
        loc = loc[1:]  # where the request carried it (a form field may be named "body" too)
    return (loc[-1] if loc else None), message(first)
