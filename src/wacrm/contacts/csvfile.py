"""Reading a contacts CSV: columns found by their usual names, phones normalised with
phonenumbers (a default country for numbers without one), row-level errors, duplicates merged."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text

MAX_NAME = 200
MAX_ERRORS_KEPT = 500
COLUMNS = {
    "name": ("name", "full name", "customer", "contact", "contact name", "customer name"),
    "first_name": ("first name", "given name", "firstname"),
    "last_name": ("last name", "family name", "surname", "lastname"),
    "phone": (
        "phone",
        "phone number",
        "mobile",
        "mobile number",
        "whatsapp",
        "whatsapp number",
        "number",
        "tel",
        "telephone",
        "wa_id",
    ),
    "bsuid": ("bsuid", "user id", "whatsapp user id", "user_id"),
    "labels": ("labels", "label", "tags", "tag"),
    "opt_in": (
        "opt_in",
        "opt-in",
        "optin",
        "opted in",
        "opted_in",
        "marketing",
        "consent",
        "subscribed",
        "marketing opt-in",
    ),
}
YES = {
    "yes",
    "y",
    "true",
    "1",
    "x",
    "opted in",
    "opt-in",
    "opt in",
    "ja",
    "si",
    "sí",
    "oui",
    "subscribed",
}
NO = {"no", "n", "false", "0", "opted out", "opt-out", "opt out", "nein", "non", "unsubscribed"}
BSUID = re.compile(r"^[A-Z]{2}\.[0-9A-Za-z]{1,64}$")
LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class CsvError(Exception):
    """The file as a whole cannot be read (no header, no phone column, not text)."""


# What is wrong with one row, by code: the import keeps the code and its values with each row
# error and shows it in the viewer's language (row_message); `message` is kept in English too.
ROW_ERRORS = {
    "no_country": N_("no country code: write it as +<country code> or choose a default country"),
    "not_a_phone": N_("not a phone number"),
    "invalid_phone": N_("not a valid phone number for {region}"),
    "yes_or_no": N_("write yes or no (or leave it empty when unknown)"),
    "bad_label": N_("label '{label}': letters, digits, - and _ only, at most 40 characters"),
    "name_too_long": N_("longer than {most} characters"),
    "bad_bsuid": N_("expected a WhatsApp user id such as US.13491208655302741918"),
    "no_phone": N_("missing (a row needs a phone number or a bsuid)"),
}


class RowError(ValueError):
    """One row's fault: its column, a code of ROW_ERRORS and the code's values."""

    def __init__(self, code: str, column: str = "", **params: Any) -> None:
        self.code, self.column, self.params = code, column, params
        super().__init__(Text(ROW_ERRORS[code], **params).english())

    def at(self, column: str) -> RowError:
        """The same fault, found in `column`."""
        return RowError(self.code, column, **self.params)


def row_message(error: dict[str, Any]) -> Text | str:
    """A stored row error's reason in the viewer's language (rows stored before codes: English)."""
    code = error.get("code")
    if code in ROW_ERRORS:
        return Text(ROW_ERRORS[code], **(error.get("params") or {}))
    return str(error.get("message") or "")


@dataclass
class Contact:
    line: int
    name: str
    phone: str | None
    bsuid: str | None
    labels: list[str]
    opted_in: bool | None


@dataclass
class Parsed:
    contacts: list[Contact] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_rows: int = 0
    total_rows: int = 0
    duplicates: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if b"\x00" in data:  # UTF-16 or a binary file; PostgreSQL keeps no NUL in text either
        raise CsvError(Text("the file is not text (save it as CSV, UTF-8)"))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvError(Text("the file is not text (save it as CSV, UTF-8)"))


def _header_map(header: list[str]) -> tuple[dict[str, int], list[str]]:
    found: dict[str, int] = {}
    ignored = []
    for index, title in enumerate(header):
        key = re.sub(r"\s+", " ", title.strip().lower().replace("_", " "))
        for column, names in COLUMNS.items():
            if column not in found and key in {n.replace("_", " ") for n in names}:
                found[column] = index
                break
        else:
            if title.strip():
                ignored.append(title.strip())
    return found, ignored


def normalize_phone(value: str, country: str | None) -> str:
    """E.164 of a phone number as people write it; raises ValueError with the reason."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") and not country:
        raise RowError("no_country")
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else country)
    except phonenumbers.NumberParseException:
        raise RowError("not_a_phone") from None
    if not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_number(parsed) or country or "?"
        raise RowError("invalid_phone", region=region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _opt_in(value: str) -> bool | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in YES:
        return True
    if text in NO:
        return False
    raise RowError("yes_or_no")


def _labels(value: str) -> list[str]:
    out = []
    for part in re.split(r"[;|,]", value):
        name = re.sub(r"\s+", "-", part.strip().lower())
        if not name:
            continue
        if not LABEL.match(name):
            raise RowError("bad_label", label=part.strip())
        out.append(name)
    return sorted(set(out))


def _row(cells: list[str], columns: dict[str, int], line: int, country: str | None) -> Contact:
    """One contact, or RowError (its column, code and values)."""

    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    name = cell("name") or " ".join(x for x in (cell("first_name"), cell("last_name")) if x)
    if len(name) > MAX_NAME:
        raise RowError("name_too_long", "name", most=MAX_NAME)
    phone = bsuid = None
    if cell("phone"):
        try:
            phone = normalize_phone(cell("phone"), country)
        except RowError as exc:
            raise exc.at("phone") from None
    if cell("bsuid"):
        if not BSUID.match(cell("bsuid")):
            raise RowError("bad_bsuid", "bsuid")
        bsuid = cell("bsuid")
    if phone is None and bsuid is None:
        raise RowError("no_phone", "phone")
    try:
        labels = _labels(cell("labels"))
    except RowError as exc:
        raise exc.at("labels") from None
    try:
        opted_in = _opt_in(cell("opt_in"))
    except RowError as exc:
        raise exc.at("opt_in") from None
    return Contact(line, name, phone, bsuid, labels, opted_in)


def _merge(into: Contact, later: Contact) -> None:
    """A later row for the same person: its values win where it has them; labels add up."""
    into.line = later.line
    into.name = later.name or into.name
    into.bsuid = later.bsuid or into.bsuid
    into.phone = later.phone or into.phone
    into.labels = sorted(set(into.labels) | set(later.labels))
    if later.opted_in is not None:
        into.opted_in = later.opted_in


def parse(
    data: bytes, *, country: str | None, progress: Callable[[int], None] | None = None
) -> Parsed:
    """Read every row; contacts are unique by phone and by bsuid (later rows merge into earlier)."""
    text = _decode(data)
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise CsvError(
            Text("the file is empty: the first line must name the columns (name, phone, ...)")
        )
    columns, ignored = _header_map(header)
    if "phone" not in columns and "bsuid" not in columns:
        raise CsvError(
            Text(
                "no phone column: name one column 'phone' (or 'mobile', 'whatsapp'); found {found}",
                found=[repr(h) for h in header],
            )
        )
    out = Parsed(columns={k: header[v] for k, v in columns.items()}, ignored_columns=ignored)
    by_key: dict[str, Contact] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        out.total_rows += 1
        if progress is not None and out.total_rows % 5000 == 0:
            progress(out.total_rows)
        try:
            contact = _row(cells, columns, line, country)
        except RowError as exc:
            out.error_rows += 1
            if len(out.errors) < MAX_ERRORS_KEPT:
                column = exc.column
                value = (
                    cells[columns[column]]
                    if column in columns and columns[column] < len(cells)
                    else ""
                )
                out.errors.append(
                    {
                        "line": line,
                        "column": column,
                        "value": value[:80],
                        "message": str(exc),
                        "code": exc.code,
                        "params": exc.params,
                    }
                )
            continue
        earlier = (contact.bsuid and by_key.get("b:" + contact.bsuid)) or (
            contact.phone and by_key.get("p:" + contact.phone)
        )
        if earlier:
            _merge(earlier, contact)
            out.duplicates += 1
            contact = earlier
        else:
            out.contacts.append(contact)
        for key in (contact.bsuid and "b:" + contact.bsuid, contact.phone and "p:" + contact.phone):
            if key:
                by_key[key] = contact
    if progress is not None:
        progress(out.total_rows)
    return out
