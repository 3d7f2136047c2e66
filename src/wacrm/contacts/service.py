"""Writing an import (all or nothing, one transaction), opt-in per customer, default country."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import AsyncConnection, sql

from wacrm.agents.tables import AgentTables
from wacrm.contacts.csvfile import Contact
from wacrm.errors import AppError
from wacrm.i18n.text import Text

COPY_CHUNK = 5000
LABEL_COLOR = "#6b7280"

_TEMP = """
CREATE TEMP TABLE import_rows (line integer, name text, phone text, bsuid text, labels text[],
  opted_in boolean, customer_id integer, created boolean NOT NULL DEFAULT false,
  raced boolean NOT NULL DEFAULT false) ON COMMIT DROP
"""

# Match by BSUID first (the stronger identity), then by phone.
_MATCH = """
UPDATE import_rows t SET customer_id = c.id FROM {customers} c
WHERE t.customer_id IS NULL AND t.bsuid IS NOT NULL AND c.bsuid = t.bsuid;
UPDATE import_rows t SET customer_id = c.id FROM {customers} c
WHERE t.customer_id IS NULL AND t.phone IS NOT NULL AND c.phone = t.phone;
"""

# Existing customers: the import's name when it has one (the business's own name for the
# customer: kept like a name an agent gives, name_by_agent, when WhatsApp's profile name changes); a phone / bsuid the customer lacks
# (unless another customer has it); the opt-in it gives, except that an opt-out the customer
# sent themselves (an opt-out word) is never undone by an import.
_MERGE = """
UPDATE {customers} c SET
  name = CASE WHEN t.name <> '' THEN t.name ELSE c.name END,
  name_by_agent = CASE WHEN t.name <> '' THEN true ELSE c.name_by_agent END,
  phone = coalesce(c.phone, CASE WHEN NOT EXISTS (SELECT FROM {customers} o WHERE o.phone = t.phone)
                               THEN t.phone END),
  bsuid = coalesce(c.bsuid, CASE WHEN NOT EXISTS (SELECT FROM {customers} o WHERE o.bsuid = t.bsuid)
                               THEN t.bsuid END),
  opted_in = CASE WHEN t.opted_in IS NULL THEN c.opted_in
    WHEN t.opted_in AND c.opted_in IS FALSE AND coalesce(c.opt_in_source, '') ~ '^(keyword|WhatsApp)' THEN c.opted_in
    ELSE t.opted_in END,
  opt_in_changed_at = CASE WHEN t.opted_in IS NOT NULL AND t.opted_in IS DISTINCT FROM c.opted_in
    AND NOT (t.opted_in AND c.opted_in IS FALSE AND coalesce(c.opt_in_source, '') ~ '^(keyword|WhatsApp)')
    THEN now() ELSE c.opt_in_changed_at END,
  opt_in_source = CASE WHEN t.opted_in IS NOT NULL AND t.opted_in IS DISTINCT FROM c.opted_in
    AND NOT (t.opted_in AND c.opted_in IS FALSE AND coalesce(c.opt_in_source, '') ~ '^(keyword|WhatsApp)')
    THEN 'import' ELSE c.opt_in_source END,
  updated_at = now()
FROM import_rows t WHERE c.id = t.customer_id
"""

# New customers get their ids first (so each row knows its customer without a join on phone or
# bsuid); a row that meets a customer created meanwhile (ON CONFLICT) is matched and merged after.
_NEW_IDS = """
UPDATE import_rows SET customer_id = nextval(pg_get_serial_sequence(%s, 'id')), created = true
WHERE customer_id IS NULL
"""
_INSERT = """
WITH made AS (
  INSERT INTO {customers}
    (id, name, name_by_agent, phone, wa_id, bsuid, opted_in, opt_in_changed_at, opt_in_source)
  SELECT t.customer_id, CASE WHEN t.name <> '' THEN t.name ELSE coalesce(t.phone, t.bsuid) END,
    CASE WHEN t.name <> '' THEN true END,
    t.phone, ltrim(t.phone, '+'), t.bsuid, t.opted_in,
    CASE WHEN t.opted_in IS NOT NULL THEN now() END,
    CASE WHEN t.opted_in IS NOT NULL THEN 'import' END
  FROM import_rows t WHERE t.created ORDER BY t.line
  ON CONFLICT DO NOTHING
  RETURNING id
)
UPDATE import_rows t SET customer_id = NULL, created = false, raced = true
WHERE t.created AND t.customer_id NOT IN (SELECT id FROM made)  -- a hashed subplan
"""


async def write_contacts(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    contacts: list[Contact],
    progress: Callable[[int], Any] | None = None,
) -> dict[str, int]:
    """Create or merge every contact in one transaction; {"created", "merged"}.

    `progress(rows_written)` is called after each chunk (it may be a coroutine function).
    """
    async with conn.transaction():
        await conn.execute(_TEMP)
        done = 0
        for start in range(0, len(contacts), COPY_CHUNK):
            chunk = contacts[start : start + COPY_CHUNK]
            cur = conn.cursor()
            async with cur.copy(
                "COPY import_rows (line, name, phone, bsuid, labels, opted_in) FROM STDIN"
            ) as copy:
                for c in chunk:
                    await copy.write_row((c.line, c.name, c.phone, c.bsuid, c.labels, c.opted_in))
            done += len(chunk)
            if progress is not None:
                result = progress(done)
                if hasattr(result, "__await__"):
                    await result
        await conn.execute("ANALYZE import_rows")
        for statement in _MATCH.strip().split(";\n"):
            await conn.execute(tables.query(statement))
        await conn.execute(tables.query(_MERGE))
        await conn.execute(_NEW_IDS, (tables.prefix + "_customers",))
        await conn.execute(tables.query(_INSERT))
        for statement in _MATCH.strip().split(";\n"):  # rows that met a customer made meanwhile
            await conn.execute(tables.query(statement))
        await conn.execute(tables.query(_MERGE + " AND t.raced"))
        cur = await conn.execute(
            "SELECT count(*) FILTER (WHERE created) AS created,"
            " count(*) FILTER (WHERE customer_id IS NULL) AS lost FROM import_rows"
        )
        counts = await cur.fetchone()
        assert counts is not None
        if counts["lost"]:
            raise RuntimeError(f"{counts['lost']} rows matched no customer after the import")
        await _apply_labels(conn, tables)
    return {"created": int(counts["created"]), "merged": len(contacts) - int(counts["created"])}


async def _apply_labels(conn: AsyncConnection[Any], tables: AgentTables) -> None:
    """Labels of the rows onto the conversations (the team inbox's labels, when present)."""
    cur = await conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL AS ok", (tables.prefix + "_conversation_labels",)
    )
    row = await cur.fetchone()
    if not row or not row["ok"]:
        return
    await conn.execute(
        """INSERT INTO workspace_labels (agent_id, name, color)
           SELECT DISTINCT %s, l, %s FROM import_rows, unnest(labels) l
           ON CONFLICT (agent_id, name) DO NOTHING""",
        (tables.agent_id, LABEL_COLOR),
    )
    await conn.execute(
        sql.SQL(
            """INSERT INTO {links} (customer_id, label_id)
               SELECT DISTINCT t.customer_id, w.id FROM import_rows t, unnest(t.labels) l
               JOIN workspace_labels w ON w.agent_id = %s AND w.name = l
               ON CONFLICT DO NOTHING"""
        ).format(links=sql.Identifier(tables.prefix + "_conversation_labels")),
        (tables.agent_id,),
    )


async def default_country(conn: AsyncConnection[Any], *, agent_id: int) -> str | None:
    cur = await conn.execute("SELECT default_country FROM agents WHERE id = %s", (agent_id,))
    row = await cur.fetchone()
    return row["default_country"] if row else None


async def set_default_country(
    conn: AsyncConnection[Any], *, agent_id: int, country: str | None
) -> None:
    await conn.execute(
        "UPDATE agents SET default_country = %s WHERE id = %s", (country or None, agent_id)
    )


async def set_opt_in(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    customer_id: int,
    opted_in: bool | None,
    source: str,
) -> dict[str, Any] | None:
    """Record a customer's marketing opt-in (True), opt-out (False) or unknown (None)."""
    cur = await conn.execute(
        tables.query(
            """UPDATE {customers} SET opted_in = %s, opt_in_changed_at = now(), opt_in_source = %s,
                 updated_at = now() WHERE id = %s
               RETURNING id, opted_in, opt_in_changed_at, opt_in_source"""
        ),
        (opted_in, source, customer_id),
    )
    row = await cur.fetchone()
    return dict(row) if row else None


async def opt_in_of(
    conn: AsyncConnection[Any], *, tables: AgentTables, customer_id: int
) -> dict[str, Any] | None:
    """A customer's marketing opt-in state (shown in the chat's customer panel)."""
    cur = await conn.execute(
        tables.query(
            "SELECT opted_in, opt_in_changed_at, opt_in_source FROM {customers} WHERE id = %s"
        ),
        (customer_id,),
    )
    row = await cur.fetchone()
    return dict(row) if row else None


class OptWordsError(AppError, ValueError):
    """Opt-out or opt-in words that cannot be saved (422); `field` is the form field."""

    status = 422

    field: str

    def __init__(self, message: str | Text, field: str) -> None:
        super().__init__(message, field=field)


async def opt_words(
    conn: AsyncConnection[Any], *, agent_id: int
) -> dict[str, dict[str, list[str]]]:
    """The workspace's opt-out and opt-in words per language (its own, else the defaults)."""
    cur = await conn.execute(
        """SELECT coalesce(opt_out_words, wacrm_default_opt_words('out')) AS out,
                  coalesce(opt_in_words, wacrm_default_opt_words('in')) AS in_
           FROM agents WHERE id = %s""",
        (agent_id,),
    )
    row = await cur.fetchone()
    return {"out": dict(row["out"]), "in": dict(row["in_"])} if row else {"out": {}, "in": {}}


def parse_words(text: str, field: str) -> dict[str, list[str]]:
    """Lines like `en: STOP, UNSUBSCRIBE` -> {"en": ["STOP", "UNSUBSCRIBE"]}."""
    import re

    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        language, sep, words = line.partition(":")
        language = language.strip()
        if not sep or not re.match(r"^[a-z]{2,3}(_[A-Z]{2})?$", language):
            raise OptWordsError(
                Text(
                    "write each line as 'en: STOP, UNSUBSCRIBE' (got {line})",
                    line=repr(line.strip()[:40]),
                ),
                field,
            )
        listed = [w.strip().upper() for w in words.split(",") if w.strip()]
        if not listed or len(listed) > 20 or any(len(w) > 40 for w in listed):
            raise OptWordsError(
                Text(
                    "{language}: 1 to 20 words or phrases, each at most 40 characters",
                    language=language,
                ),
                field,
            )
        out[language] = sorted(set(out.get(language, []) + listed))
    if len(out) > 30:
        raise OptWordsError(Text("at most 30 languages"), field)
    return out


async def save_opt_words(
    conn: AsyncConnection[Any], *, agent_id: int, out_text: str, in_text: str
) -> None:
    """Save the workspace's words (an empty box restores the defaults)."""
    words_out, words_in = (
        parse_words(out_text, "opt_out_words"),
        parse_words(in_text, "opt_in_words"),
    )
    import json

    await conn.execute(
        "UPDATE agents SET opt_out_words = %s, opt_in_words = %s WHERE id = %s",
        (
            json.dumps(words_out) if words_out else None,
            json.dumps(words_in) if words_in else None,
            agent_id,
        ),
    )
