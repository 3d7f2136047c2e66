"""Outgoing webhook tests: a local receiver and a workspace with an endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hooks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
