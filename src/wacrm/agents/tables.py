"""Per-agent table names, composed only from validated prefixes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from psycopg import sql

from wacrm.errors import AppError
from wacrm.i18n.text import Text

PREFIX_PATTERN = re.compile(r"^agt_[a-z0-9]{1,32}$")


class InvalidPrefixError(AppError, ValueError):
    """An agent prefix that does not match ^agt_[a-z0-9]{1,32}$."""


def validate_prefix(prefix: str) -> str:
    """Return `prefix` if it is a valid agent prefix, else raise InvalidPrefixError."""
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise InvalidPrefixError(
            Text(
                "invalid agent prefix '{prefix}': it must match ^agt_[a-z0-9]{{1,32}}$ (e.g. agt_3784)",
                prefix=prefix,
            )
        )
    return prefix


@dataclass(frozen=True)
class AgentTables:
    """The identifiers of one agent's tables. Build it only from a validated prefix."""

    agent_id: int
    prefix: str

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)

    def _ident(self, suffix: str) -> sql.Identifier:
        return sql.Identifier(f"{self.prefix}_{suffix}")

    @cached_property
    def customers(self) -> sql.Identifier:
        return self._ident("customers")

    @cached_property
    def messages(self) -> sql.Identifier:
        return self._ident("messages")

    @cached_property
    def orders(self) -> sql.Identifier:
        return self._ident("orders")

    @cached_property
    def orders_items(self) -> sql.Identifier:
        return self._ident("orders_items")

    @cached_property
    def orders_history(self) -> sql.Identifier:
        return self._ident("orders_history")

    @cached_property
    def conversation_labels(self) -> sql.Identifier:
        return self._ident("conversation_labels")

    @cached_property
    def conversation_mentions(self) -> sql.Identifier:
        return self._ident("conversation_mentions")

    @cached_property
    def conversation_events(self) -> sql.Identifier:
        return self._ident("conversation_events")

    @cached_property
    def notes(self) -> sql.Identifier:
        return self._ident("notes")

    @cached_property
    def message_versions(self) -> sql.Identifier:
        return self._ident("message_versions")

    def query(self, template: str, **extra: sql.Composable) -> sql.Composed:
        """Compose `template` with the agent's table names ({customers}, {messages}, ...)."""
        names = {suffix: getattr(self, suffix) for suffix in TABLE_SUFFIXES}
        return sql.SQL(template).format(**names, **extra)


TABLE_SUFFIXES = (
    "customers",
    "messages",
    "orders",
    "orders_items",
    "orders_history",
    "conversation_labels",
    "conversation_mentions",
    "conversation_events",
    "notes",
    "message_versions",
)
