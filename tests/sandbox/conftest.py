from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    recv.server.start()
    yield recv
    recv.server.stop()
