"""Customer identity: one customer per person, found by BSUID first and phone number otherwise."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
import phonenumbers
from psycopg import AsyncConnection

from wacrm.agents.tables import AgentTables
from wacrm.errors import AppError
from wacrm.i18n.text import Text

_COLUMNS = (
    "id, agent_id, name, phone, wa_id, bsuid, parent_bsuid, username, profile_image_url, created_at,"
    " updated_at, last_message_at, last_inbound_at, last_message_id, unread_count, profile_name,"
    " coalesce(name_by_agent, false) AS name_by_agent, address_book_name"
)


class CustomerError(AppError, ValueError):
    """A customer cannot be changed as asked (the message says why)."""


@lru_cache(maxsize=65536)
def e164(wa_id: str | None) -> str | None:
    """Meta's digits-only number as E.164 (`+4915123456789`); None when there is none.

    Cached: `phonenumbers` parsing is costly on the webhook path (docs/performance.md).
    """
    if not wa_id:
        return None
    digits = "".join(ch for ch in str(wa_id) if ch.isdigit())
    if not digits:
        return None
    try:
        parsed = phonenumbers.parse("+" + digits, None)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    return "+" + digits


@lru_cache(maxsize=65536)
def _phone_lock(tables: AgentTables, phone: str | None) -> int:
    """A transaction advisory-lock key for one agent's phone number."""
    digest = hashlib.blake2b(f"{tables.prefix}:{phone}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@lru_cache(maxsize=4096)
def _sql(tables: AgentTables) -> dict[str, str]:
    """The single-customer statements of one agent, composed once (new customers and their
    links are made only by `resolve_senders`)."""
    q = {
        "find": "SELECT id FROM {customers} WHERE (%(bsuid)s::text IS NOT NULL AND bsuid = %(bsuid)s)"
        " OR (%(phone)s::text IS NOT NULL AND phone = %(phone)s) ORDER BY (bsuid = %(bsuid)s) DESC NULLS LAST"
        " LIMIT 1",
        "taken_phone": "SELECT id FROM {customers} WHERE phone = %(phone)s AND id <> %(id)s",
        "taken_bsuid": "SELECT id FROM {customers} WHERE bsuid = %(bsuid)s AND id <> %(id)s",
        "set_phone": "UPDATE {customers} SET phone = %(phone)s, wa_id = %(wa_id)s,"
        " bsuid = coalesce(%(bsuid)s::text, bsuid), updated_at = now() WHERE id = %(id)s",
        "set_bsuid": "UPDATE {customers} SET bsuid = %(bsuid)s, updated_at = now() WHERE id = %(id)s",
        "get": f"SELECT {_COLUMNS} FROM {{customers}} WHERE id = %(id)s",
        "rename": "UPDATE {customers} SET name = %(name)s, name_by_agent = true, updated_at = now()"
        f" WHERE id = %(id)s RETURNING {_COLUMNS}",
    }
    return {k: tables.query(v).as_string(None) for k, v in q.items()}


_LOCK = "SELECT pg_advisory_xact_lock(k::bigint) FROM json_array_elements_text(%s::json) AS k"


@lru_cache(maxsize=4096)
def _identity_sql(tables: AgentTables) -> str:
    """The one statement that makes and links customers (see `resolve_senders`): links (phone,
    bsuid), BSUID senders, phone-only senders; positional parameters, rows as JSON.

    Lookups are `(SELECT … LIMIT 1)`, not EXISTS: the planner expects 100 rows from
    json_to_recordset and would otherwise hash the whole customers table for a handful of rows.
    """
    return tables.query(_IDENTITY).as_string(None)


_IDENTITY = """
            WITH l AS (
              SELECT * FROM json_to_recordset(%s::json) AS l(phone text, bsuid text)
            ), link AS (
              UPDATE {customers} c SET bsuid = l.bsuid, updated_at = now()
              FROM l
              WHERE c.phone = l.phone AND c.bsuid IS NULL
                AND c.phone = ANY (ARRAY(SELECT phone FROM l))  -- index probes
                AND (SELECT b.id FROM {customers} b WHERE b.bsuid = l.bsuid LIMIT 1) IS NULL
              RETURNING c.bsuid
            ), x AS (
              SELECT * FROM json_to_recordset(%s::json) AS x(o int, fallback text, phone text,
                wa_id text, bsuid text, username text, parent text)
            ), by_bsuid AS (
              INSERT INTO {customers} AS c (name, phone, wa_id, bsuid, username, parent_bsuid)
              SELECT x.fallback, p.phone, CASE WHEN p.phone IS NULL THEN NULL ELSE x.wa_id END,
                     x.bsuid, x.username, x.parent
              FROM x CROSS JOIN LATERAL (
                SELECT CASE WHEN (SELECT e.id FROM {customers} e WHERE e.phone = x.phone LIMIT 1)
                                 IS NOT NULL THEN NULL ELSE x.phone END AS phone) p
              WHERE x.bsuid NOT IN (SELECT link.bsuid FROM link)
              ORDER BY x.o
              ON CONFLICT (bsuid) WHERE bsuid IS NOT NULL DO UPDATE SET
                phone = coalesce(c.phone, excluded.phone),
                wa_id = coalesce(c.wa_id, excluded.wa_id),
                updated_at = now()
              WHERE (c.phone IS NULL AND excluded.phone IS NOT NULL)
                 OR (c.wa_id IS NULL AND excluded.wa_id IS NOT NULL)
            ), by_phone AS (
              INSERT INTO {customers} AS c (name, phone, wa_id, username, parent_bsuid)
              SELECT y.fallback, y.phone, y.wa_id, y.username, y.parent
              FROM json_to_recordset(%s::json) AS y(o int, fallback text, phone text, wa_id text,
                   username text, parent text)
              ORDER BY y.o
              ON CONFLICT (phone) WHERE phone IS NOT NULL DO UPDATE SET
                wa_id = excluded.wa_id, updated_at = now()
              WHERE c.wa_id IS NULL AND excluded.wa_id IS NOT NULL
            )
            SELECT 1"""


Person = tuple[str | None, str | None, str | None, str | None, str | None]
"""(wa_id, bsuid, profile name, username, parent BSUID) of one inbound message's sender."""


@dataclass
class Senders:
    """The senders of a batch for one agent, folded: one row per BSUID, one per phone-only sender,
    and the (phone, BSUID) links to make."""

    by_bsuid: dict[
        str, list[Any]
    ]  # bsuid → [fallback, phone, wa_id, bsuid, username, parent, name]
    by_phone: dict[str, list[Any]]  # phone → [fallback, phone, wa_id, username, parent, name]
    links: list[tuple[str, str]]

    def lock_keys(self, tables: AgentTables) -> list[int]:
        """The advisory-lock keys of every phone number these senders touch."""
        phones = {row[1] for row in self.by_bsuid.values() if row[1]} | self.by_phone.keys()
        phones.update(p for p, _ in self.links)
        return [_phone_lock(tables, p) for p in phones]

    def profiles(self) -> list[dict[str, Any]]:
        """The profile fields given (name, username, parent BSUID), one row per sender."""
        return [
            {"phone": None, "bsuid": r[3], "name": r[6], "username": r[4], "parent": r[5]}
            for r in self.by_bsuid.values()
            if r[4] or r[5] or r[6]
        ] + [
            {"phone": r[1], "bsuid": None, "name": r[5], "username": r[3], "parent": r[4]}
            for r in self.by_phone.values()
            if r[3] or r[4] or r[5]
        ]


def fold_senders(people: list[Person]) -> Senders:
    """Fold the senders of many messages (raises CustomerError for one with neither phone nor BSUID)."""
    return Senders(*_fold(people))


def _fold(
    people: list[Person],
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], list[tuple[str, str]]]:
    """Fold senders seen many times: one row per BSUID, one per phone-only sender, the links to make."""
    # bsuid → [fallback, phone, wa_id, bsuid, username, parent, name]
    by_bsuid: dict[str, list[Any]] = {}
    by_phone: dict[str, list[Any]] = {}  # phone → [fallback, phone, wa_id, username, parent, name]
    links: list[tuple[str, str]] = []
    linked: set[str] = set()
    for wa_id, bsuid, name, username, parent in people:
        phone = e164(wa_id)
        bsuid, name, username, parent = (
            bsuid or None,
            name or None,
            username or None,
            parent or None,
        )
        if phone is None and bsuid is None:
            raise CustomerError(
                Text("a customer needs a phone number (wa_id) or a business-scoped user id")
            )
        fallback = name or username or phone or bsuid
        if bsuid is not None:
            if phone is not None:
                if phone not in linked and bsuid not in linked:
                    links.append((phone, bsuid))
                linked.update((phone, bsuid))
            row = by_bsuid.get(bsuid)
            if row is None:
                by_bsuid[bsuid] = [
                    fallback,
                    phone,
                    wa_id if phone else None,
                    bsuid,
                    username,
                    parent,
                    name,
                ]
                continue
            if row[1] is None and phone is not None:
                row[1], row[2] = phone, wa_id
        else:
            assert phone is not None
            row = by_phone.get(phone)
            if row is None:
                by_phone[phone] = [fallback, phone, wa_id, username, parent, name]
                continue
        row[-3] = username or row[-3]
        row[-2] = parent or row[-2]
        row[-1] = name or row[-1]
    taken: set[str] = set()  # one statement cannot give one new phone number to two BSUIDs
    for row in by_bsuid.values():
        if row[1] is not None:
            if row[1] in taken:
                row[1] = row[2] = None
            else:
                taken.add(row[1])
    return by_bsuid, by_phone, links


async def lock_phones(conn: AsyncConnection[Any], keys: list[int]) -> None:
    """Take the phone numbers' advisory locks (keys from `Senders.lock_keys`) in key order, in ONE
    statement: it must run before the statements that read and write those customers (their
    snapshot is then taken after the locks)."""
    if keys:
        await conn.execute(_LOCK, (_json([str(k) for k in sorted(set(keys))]),), prepare=True)


async def resolve_senders(
    conn: AsyncConnection[Any], tables: AgentTables, senders: Senders
) -> None:
    """Links, BSUID senders and phone-only senders of one agent in ONE statement (after `lock_phones`).

    One statement sees one snapshot and cannot touch a row twice, so the rows that would meet
    are kept apart: a BSUID the link gives to a known number is not upserted again (that upsert
    would change nothing: the number exists, so it carries no phone), and a phone-only sender whose
    number also comes with a BSUID in the batch is left to that row (`fold_senders`).
    """
    if not (senders.links or senders.by_bsuid or senders.by_phone):
        return
    bsuid_keys = ("fallback", "phone", "wa_id", "bsuid", "username", "parent", "name")
    phone_keys = ("fallback", "phone", "wa_id", "username", "parent", "name")
    links = [{"phone": p, "bsuid": b} for p, b in senders.links]
    by_bsuid = [
        dict(zip(bsuid_keys, row, strict=True), o=i)
        for i, row in enumerate(senders.by_bsuid.values())
    ]
    with_bsuid = {p for p, _ in senders.links} | {r[1] for r in senders.by_bsuid.values() if r[1]}
    by_phone = [
        dict(zip(phone_keys, row, strict=True), o=i)
        for i, row in enumerate(senders.by_phone.values())
        if row[1] not in with_bsuid
    ]
    await conn.execute(
        _identity_sql(tables),
        (_json(links), _json(by_bsuid), _json(by_phone)),
        prepare=True,
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def change_identity(
    conn: AsyncConnection[Any],
    *,
    tables: AgentTables,
    old_wa_id: str | None,
    old_bsuid: str | None,
    new_wa_id: str | None = None,
    new_bsuid: str | None = None,
) -> int | None:
    """Apply a `user_changed_number` / `user_changed_user_id` system message; the customer's id.

    A new phone number comes with a new BSUID: unless the message gives it, the old BSUID is
    dropped so that the next message (new phone, new BSUID) links to this customer.
    """
    q = _sql(tables)
    cid = await find_customer(conn, tables=tables, wa_id=old_wa_id, bsuid=old_bsuid)
    if cid is None:
        return None
    new_phone = e164(new_wa_id)
    if new_phone is not None:
        cur = await conn.execute(q["taken_phone"], {"phone": new_phone, "id": cid})
        if await cur.fetchone() is None:
            await conn.execute(
                q["set_phone"],
                {"phone": new_phone, "wa_id": new_wa_id, "bsuid": new_bsuid or None, "id": cid},
            )
            if not new_bsuid:
                await conn.execute(q["set_bsuid"], {"bsuid": None, "id": cid})
            return cid
    if new_bsuid:
        cur = await conn.execute(q["taken_bsuid"], {"bsuid": new_bsuid, "id": cid})
        if await cur.fetchone() is None:
            await conn.execute(q["set_bsuid"], {"bsuid": new_bsuid, "id": cid})
    return cid


async def find_customer(
    conn: AsyncConnection[Any], *, tables: AgentTables, wa_id: str | None, bsuid: str | None
) -> int | None:
    """The id of the customer with this BSUID, else with this phone number; None if none."""
    cur = await conn.execute(_sql(tables)["find"], {"bsuid": bsuid or None, "phone": e164(wa_id)})
    row = await cur.fetchone()
    return int(row["id"]) if row else None


async def get_customer(
    conn: AsyncConnection[Any], *, tables: AgentTables, customer_id: int
) -> dict[str, Any] | None:
    cur = await conn.execute(_sql(tables)["get"], {"id": customer_id})
    row = await cur.fetchone()
    return dict(row) if row else None


async def rename_customer(
    conn: AsyncConnection[Any], *, tables: AgentTables, customer_id: int, name: str
) -> dict[str, Any] | None:
    """Set the name the agent knows the customer by (kept when the WhatsApp profile name
    changes; the profile name stays in `profile_name`); None if there is no such customer."""
    if not isinstance(name, str) or not name.strip():
        raise CustomerError(
            Text("the name is empty: give the customer a name of at least one character")
        )
    if len(name) > 200:
        raise CustomerError(Text("the name is too long (at most 200 characters)"))
    cur = await conn.execute(_sql(tables)["rename"], {"id": customer_id, "name": name.strip()})
    row = await cur.fetchone()
    return dict(row) if row else None
