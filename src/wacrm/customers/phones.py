"""Phone numbers as people type them, matched against stored E.164 numbers through indexes.

One place for it: the inbox search uses `phone_match` + `match_sql`, and so can any other search
(a stored search document, an import's duplicate check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

MIN_PREFIX = 3  # digits typed without "+": fewer are too little to mean a number
MIN_COUNTRY = 2  # digits typed with "+": "+49" lists the country's numbers
MIN_SUFFIX = 6  # digits: the last 6 or more digits of a number find it
_PHONE_LIKE = re.compile(r"^\s*(\+|00)?[\d\s().\-/]+$")


@dataclass(frozen=True)
class PhoneQuery:
    """What a typed number can match: stored numbers starting with one of `prefixes` (E.164,
    with the "+") or ending with one of `suffixes` (digits)."""

    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]


@lru_cache(maxsize=1)
def national_prefixes() -> dict[str, frozenset[int]]:
    """Every trunk prefix a national format may start with ("0", "8", "06", "1", …), with the
    lengths the number after it can have in the countries that use it (from phonenumbers)."""
    found: dict[str, set[int]] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is not None and meta.national_prefix and meta.general_desc is not None:
            lengths = found.setdefault(meta.national_prefix, set())
            lengths.update(meta.general_desc.possible_length or ())
    return {prefix: frozenset(lengths) for prefix, lengths in found.items()}


def _international(text: str, digits: str) -> str | None:
    """The E.164 start of a number typed with its country code ("+49 (0)176…", "0049 176…")."""
    stripped = text.strip()
    if stripped.startswith("00") and digits[2:3] not in ("", "0"):  # "0049…", not "000041"
        stripped = "+" + stripped[2:]
        digits = digits[2:]
    if not stripped.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(stripped, None)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    return "+" + digits


@lru_cache(maxsize=4096)
def phone_match(text: str) -> PhoneQuery | None:
    """How a search text matches phone numbers; None when it does not look like one.

    `+49 176 12345678`, `0049 176 12345678` and `4917612345678` match the number's start;
    a national format (`0176 12345678` in Germany, `(415) 555-0100` in the US, `8 912 345-67-89`
    in Russia: the number's own country's format, trunk prefix included) and the last 6+ digits
    match its end.
    """
    if not _PHONE_LIKE.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    international = _international(text, digits) if len(digits) >= MIN_COUNTRY else None
    if international is None and len(digits) < MIN_PREFIX:
        return None
    if international is not None:
        prefixes = {international, "+" + digits.removeprefix("00")} - {"+"}
        return PhoneQuery(prefixes=tuple(sorted(prefixes)), suffixes=())
    suffixes = {digits} if len(digits) >= MIN_SUFFIX else set()
    for trunk, lengths in national_prefixes().items():
        rest = digits[len(trunk) :]
        if digits.startswith(trunk) and len(rest) >= MIN_SUFFIX and len(rest) in lengths:
            suffixes.add(rest)  # a whole national number after its country's trunk prefix
    return PhoneQuery(prefixes=("+" + digits,), suffixes=tuple(sorted(suffixes)))


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def match_sql(query: PhoneQuery, *, column: str = "phone") -> tuple[str, dict[str, str]]:
    """A WHERE condition on `column` (a trusted column reference) and its parameters.

    Each pattern is its own LIKE so that the planner reads the prefix index
    (`<prefix>_customers_phone_prefix_idx`) and the suffix index (`reverse(phone)`,
    `<prefix>_customers_phone_suffix_idx`) and ORs the bitmaps: no table scan.
    """
    parts, params = [], {}
    for i, prefix in enumerate(query.prefixes):
        params[f"phone_p{i}"] = _like(prefix)
        parts.append(f"{column} LIKE %(phone_p{i})s")
    for i, suffix in enumerate(query.suffixes):
        params[f"phone_s{i}"] = _like(suffix[::-1])
        parts.append(f"reverse({column}) LIKE %(phone_s{i})s")
    return "(" + " OR ".join(parts) + ")", params
