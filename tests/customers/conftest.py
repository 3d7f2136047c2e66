"""Customers tests use the inbound fixtures (an agent with a configured number)."""

from tests.inbound.conftest import agent  # noqa: F401
