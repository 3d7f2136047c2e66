"""Language negotiation, catalogs and locale formatting (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from wacrm import i18n
from wacrm.i18n import check


@pytest.fixture
def as_viewer():
    """Run code as a viewer with a given language and zone."""
    tokens = []

    def use(language: str = "en", time_zone: str = "UTC") -> None:
        tokens.append(i18n.set_viewer(i18n.Viewer(language=language, time_zone=time_zone)))

    yield use
    for token in reversed(tokens):
        i18n.reset_viewer(token)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.8", "pt_BR"),
        ("pt", "pt_BR"),
        ("de-AT", "de"),
        ("fr-FR, es;q=0.5, de;q=0.7", "de"),
        ("es-MX", "es"),
        ("fr, ja", "en"),
        ("", "en"),
        (None, "en"),
        ("de;q=0, es", "es"),
        ("de;q=abc, es;q=0.1", "es"),
    ],
)
def test_accept_language_chooses_the_best_known_language(header, expected):
    assert i18n.negotiate(header) == expected


def test_time_zones_are_validated():
    assert i18n.valid_time_zone("America/Sao_Paulo") == "America/Sao_Paulo"
    assert i18n.valid_time_zone("Mars/Olympus") is None
    assert i18n.valid_time_zone("../../etc/passwd") is None
    assert i18n.valid_time_zone("") is None


def test_every_catalog_is_complete_and_compiles():
    assert check.problems() == []
    for language in i18n.LANGUAGES:
        assert i18n.translations(language) is not None


def test_translations_follow_the_viewer(as_viewer):
    as_viewer("pt_BR")
    assert i18n.gettext("Inbox") == "Caixa de entrada"
    as_viewer("de")
    assert i18n.gettext("Inbox") == "Posteingang"
    as_viewer("es")
    assert i18n.gettext("Inbox") == "Bandeja de entrada"
    as_viewer("en")
    assert i18n.gettext("Inbox") == "Inbox"


def test_stored_values_shown_by_name_in_the_viewers_language(as_viewer):
    from wacrm.i18n import labels

    as_viewer("es")
    assert labels.broadcast_state("running") == "enviándose"
    assert labels.order_source("whatsapp_catalog") == "pedido del catálogo de WhatsApp"
    assert labels.order_source("legacy-import") == "legacy-import"  # unknown: shown as stored
    as_viewer("en")
    assert labels.broadcast_state("running") == "sending"


def test_times_are_shown_in_the_viewer_zone(as_viewer):
    instant = datetime(2026, 3, 10, 9, 21, tzinfo=UTC)
    as_viewer("pt_BR", "America/Sao_Paulo")
    assert i18n.format_time(instant) == "06:21"
    as_viewer("de", "Europe/Berlin")
    assert i18n.format_time(instant) == "10:21"
    # the day follows the zone: 01:30 UTC is still the previous day in São Paulo
    late = datetime(2026, 3, 11, 1, 30, tzinfo=UTC)
    as_viewer("en", "America/Sao_Paulo")
    assert "Mar 10" in i18n.format_day(late)
    as_viewer("en", "UTC")
    assert "Mar 11" in i18n.format_day(late)


def test_numbers_dates_and_money_follow_the_locale(as_viewer):
    as_viewer("pt_BR")
    assert i18n.format_money(Decimal("1234.5"), "BRL") == "R$\xa01.234,50"
    assert i18n.format_number(Decimal("1234.5")) == "1.234,5"
    as_viewer("de")
    assert i18n.format_money("1234.5", "EUR") == "1.234,50\xa0€"
    assert i18n.format_date(date(2026, 3, 10)) == "10.03.2026"
    as_viewer("en")
    assert i18n.format_money(Decimal("1234.5"), "USD") == "$1,234.50"
    as_viewer("es")
    assert i18n.format_day(date(2026, 3, 10)).startswith("mar")
