"""Messages made by services (wacrm.i18n.text.Text) are translated when shown (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wacrm import i18n
from wacrm.i18n.labels import order_status_text
from wacrm.i18n.text import Text
from wacrm.orders.errors import OrderError, not_found


@pytest.fixture
def as_viewer():
    tokens = []

    def use(language: str = "en", time_zone: str = "UTC") -> None:
        tokens.append(i18n.set_viewer(i18n.Viewer(language=language, time_zone=time_zone)))

    yield use
    for token in reversed(tokens):
        i18n.reset_viewer(token)


def test_an_error_speaks_the_viewer_language_and_stays_english_for_the_api(as_viewer):
    error = not_found("order", 42)
    as_viewer("pt_BR")
    assert str(error) == "não há pedido com id 42 neste espaço de trabalho"
    assert f"{error}" == str(error)
    as_viewer("de")
    assert str(error) == "keine Bestellung mit der ID 42 in diesem Arbeitsbereich"
    assert error.message == "no order with id 42 for this agent"  # the JSON API's detail
    as_viewer("en")
    assert str(error) == error.message


def test_values_are_translated_and_instants_shown_in_the_viewer_zone(as_viewer):
    moved = OrderError(
        Text(
            "an order cannot go from {current} to {target}; allowed from {current}: {allowed}",
            current=order_status_text("delivered"),
            target=order_status_text("pending"),
            allowed=[order_status_text("confirmed"), order_status_text("cancelled")],
        )
    )
    as_viewer("es")
    text = str(moved)
    assert text.startswith("un pedido no puede pasar de entregado a pendiente")
    assert text.endswith("confirmado, cancelado")
    assert moved.message.endswith("allowed from delivered: confirmed, cancelled")
    closed = Text(
        "the 24-hour window closed at {when}", when=datetime(2026, 3, 10, 9, 21, tzinfo=UTC)
    )
    as_viewer("en", "America/Sao_Paulo")
    assert "6:21" in str(closed) and "9:21" not in str(closed)
    assert closed.english() == "the 24-hour window closed at 2026-03-10T09:21:00+00:00"


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english(as_viewer, monkeypatch):
    class Broken:
        def gettext(self, message: str) -> str:
            return "pedido {numero}"

    monkeypatch.setattr(i18n, "translations", lambda language: Broken())
    as_viewer("pt_BR")
    assert str(Text("order {number}", number=7)) == "order 7"


def test_the_check_finds_a_translation_that_renames_a_value():
    from wacrm.i18n.check import _fields

    assert _fields("order {order} has no item with id {id}") == {"order", "id"}
    assert _fields("o pedido {pedido} não tem item {id}") != _fields("order {order} item {id}")
    assert _fields("{{customer.name}} is literal") == set()
