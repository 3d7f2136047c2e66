"""Amounts as Decimal, checked against the currency's ISO 4217 minor unit."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from wacrm.i18n.text import Text
from wacrm.orders.errors import OrderError, field_label

# ISO 4217 currencies whose minor unit is not 2 (every other code has 2 decimal places).
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_PRICE = Decimal("1000000000000")  # 10^12 of any currency is a typo, not an order
_DECIMAL_RE = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def minor_unit(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def check_currency(value: Any) -> str:
    """The currency code, upper-cased, if it looks like ISO 4217 (three letters)."""
    if not isinstance(value, str) or not CURRENCY_RE.fullmatch(value.strip().upper()):
        raise OrderError(
            Text(
                "currency {value} is not an ISO 4217 code (three letters, e.g. USD)",
                value=repr(value),
            )
        )
    return value.strip().upper()


def parse_price(value: Any, currency: str, *, field: str = "price") -> Decimal:
    """A non-negative amount with at most the currency's decimal places (decimal string or integer)."""
    label = field_label(field)
    if isinstance(value, (bool, float)):
        raise OrderError(
            Text(
                '{field} must be a decimal string such as "12.50", not a JSON float or boolean',
                field=label,
            )
        )
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern rules it out
            raise OrderError(
                Text("{field} {value} is not a decimal number", field=label, value=repr(value))
            ) from exc
    elif isinstance(value, str) and value.strip().startswith("-"):
        raise OrderError(
            Text("{field} must not be negative (got {value})", field=label, value=repr(value))
        )
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,3}(,\d{3})+\s*", value):
        raise OrderError(
            Text(
                "{field} {value} is ambiguous: write 1250 for one thousand two hundred fifty,"
                " or 1.25 (or 1,25) for one and a quarter",
                field=label,
                value=repr(value),
            )
        )
    else:
        raise OrderError(
            Text(
                '{field} {value} is not a decimal number such as "12.50" or 12,50',
                field=label,
                value=repr(value),
            )
        )
    if not amount.is_finite():
        raise OrderError(Text("{field} must be a finite decimal number", field=label))
    if amount < 0:
        raise OrderError(
            Text("{field} must not be negative (got {value})", field=label, value=value)
        )
    if amount > MAX_PRICE:
        raise OrderError(
            Text(
                "{field} {value} is too large (at most {max})",
                field=label,
                value=value,
                max=MAX_PRICE,
            )
        )
    places = minor_unit(currency)
    quantum = Decimal(1).scaleb(-places)
    rounded = amount.quantize(quantum)
    if rounded != amount:
        raise OrderError(
            Text(
                "{field} {value} has more than {places} decimal places, the most {currency} allows",
                field=label,
                value=value,
                currency=currency,
                places=places,
            )
        )
    return rounded


_COMMA_DECIMAL = re.compile(r"^\d+,\d{1,2}$|^\d+,\d{4,}$")  # "12,50", "0,5" (not "1,250")
_DOTTED_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+,\d+$")  # "1.250,50"
_COMMA_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+\.\d+$")  # "1,250.50"


def form_price(text: str) -> str:
    """A price typed in a form as a decimal string: the decimal comma is accepted ("12,50",
    "1.250,50", and "1,250.50"); "1,250" is left as typed (1250 or 1.25?) so that parse_price
    refuses it and says how to write it."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if _COMMA_DECIMAL.fullmatch(text):
        return text.replace(",", ".")
    if _DOTTED_THOUSANDS.fullmatch(text):
        return text.replace(".", "").replace(",", ".")
    if _COMMA_THOUSANDS.fullmatch(text):
        return text.replace(",", "")
    return text


def format_amount(amount: Decimal | None, currency: str) -> str | None:
    """The amount as a decimal string with the currency's decimal places."""
    if amount is None:
        return None
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-minor_unit(currency))))
