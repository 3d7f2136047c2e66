"""Generate one agent with many customers, messages and orders, fast (COPY), for benchmarks.

    python bench/seed_data.py --database-url URL --customers 50000 --messages 1000000

The data look like inbound/outbound would leave them: customers.last_message_at / last_message_id /
last_inbound_at / unread_count kept, message types mixed (text, photos, voice, documents, locations,
orders), outbound statuses, raw JSON on inbound rows, open and closed orders. The agent's secondary
indexes and foreign keys are dropped during the load and rebuilt after it (the same definitions, read
back from the catalog), then the tables are vacuumed and analysed as autovacuum would leave them.
Durability is the default one: ordinary logged tables, no fsync or synchronous_commit changes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from wacrm.agents.tables import AgentTables

FIRST = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elif",
    "Femi",
    "Giulia",
    "Hans",
    "Ines",
    "Jonas",
    "Kemal",
    "Lea",
    "Mina",
    "Noah",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
]
LAST = [
    "Müller",
    "Schmidt",
    "Rossi",
    "Garcia",
    "Okafor",
    "Yilmaz",
    "Nowak",
    "Silva",
    "Kim",
    "Dubois",
    "Novak",
    "Jensen",
    "Costa",
    "Ivanova",
    "Haddad",
    "Tanaka",
    "Smith",
    "Martin",
    "Weber",
    "Berg",
]
WORDS = [
    "hello",
    "hi",
    "thanks",
    "price",
    "order",
    "delivery",
    "shoes",
    "red",
    "blue",
    "size",
    "small",
    "large",
    "available",
    "today",
    "tomorrow",
    "when",
    "address",
    "payment",
    "cash",
    "card",
    "receipt",
    "invoice",
    "photo",
    "colour",
    "black",
    "white",
    "cotton",
    "shirt",
    "dress",
    "bag",
    "return",
    "exchange",
    "discount",
    "please",
    "yes",
    "no",
    "ok",
    "great",
    "perfect",
    "wait",
    "shipping",
    "tracking",
    "number",
    "week",
    "friday",
    "monday",
    "morning",
    "evening",
    "store",
    "open",
    "closed",
    "sneakers",
    "jacket",
]
# (wa_type, media_type, weight)
TYPES = [
    ("text", "none", 800),
    ("image", "image", 80),
    ("audio", "audio", 30),
    ("video", "video", 20),
    ("document", "document", 20),
    ("sticker", "sticker", 15),
    ("location", "location", 10),
    ("contacts", "contacts", 5),
    ("order", "order", 10),
    ("interactive", "interactive", 10),
]
OPEN_STATUSES = ["pending", "confirmed", "processing", "shipped"]
DONE_STATUSES = ["delivered", "cancelled"]


NULL = "\\N"  # COPY text format


def _esc(value: Any) -> str:
    """One COPY text-format field."""
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


async def _create_agent(url: str, prefix: str | None) -> AgentTables:
    from wacrm.agents.service import create_agent

    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(
            "INSERT INTO users (name, email, role) VALUES (%s, %s, 'agent') RETURNING id",
            ("bench", f"bench-{uuid.uuid4().hex[:10]}@example.com"),
        )
        user = await cur.fetchone()
        assert user is not None
        agent = await create_agent(conn, created_by=user["id"], user_id=user["id"], prefix=prefix)
    return AgentTables(agent["id"], agent["agent_prefix"])


def _table_name(t: AgentTables, suffix: str) -> str:
    return f"{t.prefix}_{suffix}"


def _drop_secondary(cur: psycopg.Cursor[Any], t: AgentTables) -> list[str]:
    """Drop the agent's foreign keys and non-constraint indexes; return the DDL that rebuilds them."""
    names = [_table_name(t, s) for s in ("customers", "messages", "orders", "orders_items")]
    rebuild: list[str] = []
    cur.execute(
        """SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
           FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])""",
        (names,),
    )
    fks = cur.fetchall()
    cur.execute(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        (names,),
    )
    indexes = cur.fetchall()
    for fk in fks:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(fk["tbl"]), sql.Identifier(fk["conname"])
            )
        )
    for ix in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(ix["name"])))
        rebuild.append(ix["def"])
    for fk in fks:
        rebuild.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ")
            .format(sql.Identifier(fk["tbl"]), sql.Identifier(fk["conname"]))
            .as_string(cur)
            + fk["def"]
        )
    return rebuild


def seed(
    url: str,
    *,
    customers: int,
    messages: int,
    prefix: str | None = None,
    rng_seed: int = 1,
    orders: int | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """Create an agent and fill its tables; return {agent_id, prefix, customers, messages, orders, seconds}."""
    started = time.perf_counter()
    rnd = random.Random(rng_seed)
    t = asyncio.run(_create_agent(url, prefix))
    end = end or datetime.now(UTC)
    span = timedelta(days=365).total_seconds()
    begin = end - timedelta(seconds=span)
    orders = customers // 10 if orders is None else orders
    sentences = [
        " ".join(rnd.choices(WORDS, k=rnd.randint(2, 12))).capitalize() for _ in range(4000)
    ]
    kinds = [(w, m) for w, m, n in TYPES for _ in range(n)]
    # per-customer inbox state, kept as inbound/outbound keep it
    last_at: list[str | None] = [None] * (customers + 1)
    last_id = [0] * (customers + 1)
    last_in: list[str | None] = [None] * (customers + 1)
    unread = [0] * (customers + 1)

    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 2)
        mark = now

    with psycopg.connect(url, row_factory=dict_row) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        rebuild = _drop_secondary(cur, t)
        # emptied in this transaction, so COPY can write frozen, all-visible rows (no later
        # hint-bit writes, and VACUUM has nothing to do); WAL is written as usual
        # (every table of the agent at once: later features' tables refer to customers and
        # messages too, and a new agent's are empty)
        cur.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND starts_with(relname, %s)",
            (t.prefix + "_",),
        )
        names = [sql.Identifier(r["relname"]) for r in cur.fetchall()]
        cur.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(names)))
        cur.execute(t.query("ALTER TABLE {messages} DISABLE TRIGGER USER"))
        with cur.copy(
            t.query(
                'COPY {messages} (id, customer_id, message, direction, "timestamp", is_read, media_type, '
                "media_url, caption, wamid, wa_type, status, status_at, media_mime_type, media_filename, "
                "media_status, raw) FROM STDIN (FREEZE)"
            )
        ) as copy:
            lines: list[str] = []
            step = span / max(messages, 1)
            # who writes each message, and which way: inbound rows before the customer's last
            # outbound row are read, the later ones unread
            owner = [1 + int(customers * rnd.random() ** 2) for _ in range(messages + 1)]
            incoming = [rnd.random() < 0.55 for _ in range(messages + 1)]
            last_out = [0] * (customers + 1)
            for i in range(1, messages + 1):
                if not incoming[i]:
                    last_out[owner[i]] = i
            for i in range(1, messages + 1):
                cid = owner[i]  # a few busy customers, a long tail
                at = (begin + timedelta(seconds=i * step)).isoformat()
                wa_type, media_type = rnd.choice(kinds)
                inbound = incoming[i]
                text, caption, media_url, mime, filename, raw = (
                    rnd.choice(sentences),
                    None,
                    None,
                    None,
                    None,
                    None,
                )
                if media_type in ("image", "video", "audio", "document", "sticker"):
                    caption = (
                        text if media_type in ("image", "video") and rnd.random() < 0.3 else None
                    )
                    text = ""
                    media_url = f"/media/{t.agent_id}/{i}"
                    mime = {
                        "image": "image/jpeg",
                        "video": "video/mp4",
                        "audio": "audio/ogg",
                        "document": "application/pdf",
                        "sticker": "image/webp",
                    }[media_type]
                    filename = f"file-{i}.pdf" if media_type == "document" else None
                body: dict[str, Any] = {
                    "from": str(4900000000 + cid),
                    "id": f"wamid.bench{i}",
                    "timestamp": at,
                    "type": wa_type,
                }
                if media_type == "location":
                    text = ""
                    body["location"] = {
                        "latitude": 52.5 + rnd.random(),
                        "longitude": 13.4,
                        "name": "Shop",
                    }
                elif media_type == "order":
                    text = ""
                    body["order"] = {
                        "catalog_id": "cat1",
                        "product_items": [
                            {
                                "product_retailer_id": f"sku{k}",
                                "quantity": rnd.randint(1, 3),
                                "item_price": 9.5,
                                "currency": "EUR",
                            }
                            for k in range(rnd.randint(1, 4))
                        ],
                    }
                elif media_type == "contacts":
                    text = ""
                    body["contacts"] = [
                        {"name": {"formatted_name": "Ann Lee"}, "phones": [{"phone": "+15550100"}]}
                    ]
                if inbound or media_type in ("location", "order", "contacts"):
                    raw = orjson.dumps(body).decode()
                direction = "inbound" if inbound else "outbound"
                if inbound:
                    unread[cid] += 1
                    last_in[cid] = at
                    status = None
                else:
                    unread[cid] = 0  # the agent answered: everything before was read
                    status = "read" if rnd.random() < 0.8 else "delivered"
                last_at[cid], last_id[cid] = at, i
                # only free text needs escaping: the other fields are ids, names and timestamps
                lines.append(
                    f"{i}\t{cid}\t{_esc(text)}\t{direction}\t{at}\t"
                    f"{'f' if inbound and i > last_out[cid] else 't'}\t{media_type}\t"
                    f"{media_url or NULL}\t{NULL if caption is None else _esc(caption)}\t"
                    f"wamid.bench{i}\t{wa_type}\t{status or NULL}\t{at if status else NULL}\t"
                    f"{mime or NULL}\t{filename or NULL}\t{'stored' if media_url else NULL}\t"
                    f"{NULL if raw is None else _esc(raw)}\n"
                )
                if len(lines) >= 50000:
                    copy.write("".join(lines))
                    lines.clear()
            copy.write("".join(lines))
        cur.execute(t.query("ALTER TABLE {messages} ENABLE TRIGGER USER"))
        lap("copy_messages")
        _fill_search_vector(cur, t)
        lap("search_vector")
        with cur.copy(
            t.query(
                "COPY {customers} (id, name, phone, username, created_at, updated_at, last_message_at, "
                "last_inbound_at, last_message_id, unread_count, wa_id) FROM STDIN (FREEZE)"
            )
        ) as copy:
            lines = []
            for cid in range(1, customers + 1):
                phone = str(4915100000000 + cid)
                name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {cid}"
                username = f"user{cid}" if cid % 10 == 0 else None
                lines.append(
                    "\t".join(
                        _esc(v)
                        for v in (
                            cid,
                            name,
                            phone,
                            username,
                            begin.isoformat(),
                            begin.isoformat(),
                            last_at[cid],
                            last_in[cid],
                            last_id[cid] or None,
                            unread[cid],
                            phone,
                        )
                    )
                    + "\n"
                )
            copy.write("".join(lines))
        with cur.copy(
            t.query(
                "COPY {orders} (id, customer_id, status, total_amount, currency, created_at) "
                "FROM STDIN"
            )
        ) as copy:
            copy.write(
                "".join(
                    f"{k}\t{rnd.randint(1, customers)}\t"
                    f"{rnd.choice(OPEN_STATUSES if rnd.random() < 0.3 else DONE_STATUSES)}\t19.00\tEUR\t"
                    f"{(begin + timedelta(seconds=rnd.random() * span)).isoformat()}\n"
                    for k in range(1, orders + 1)
                )
            )
        with cur.copy(
            t.query("COPY {orders_items} (order_id, name, quantity, price) FROM STDIN")
        ) as copy:
            copy.write(
                "".join(f"{k}\tsku{k % 50}\t{1 + k % 3}\t9.50\n" for k in range(1, orders + 1))
            )
        lap("copy_others")
        _fill_search_doc(cur, t)
        lap("search_doc")
        for suffix in ("customers", "messages", "orders", "orders_items"):
            cur.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                "(SELECT coalesce(max(id), 1) FROM " + _quoted(cur, t, suffix) + "))",
                (_table_name(t, suffix),),
            )
        conn.commit()
        lap("commit")
    _rebuild(url, rebuild)
    lap("rebuild_indexes")
    with psycopg.connect(url, autocommit=True) as vac:
        for suffix in ("customers", "messages", "orders", "orders_items"):
            vac.execute(
                sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(_table_name(t, suffix)))
            )
    lap("vacuum_analyze")
    return {
        "phases": phases,
        "agent_id": t.agent_id,
        "prefix": t.prefix,
        "customers": customers,
        "messages": messages,
        "orders": orders,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _fill_search_vector(cur: psycopg.Cursor[Any], t: AgentTables) -> None:
    """The messages' search vector (per-agent step 32), which its trigger fills on insert: the
    COPY ran with the triggers off (and a row trigger would make COPY insert row by row), so it
    is computed here as step 32 does for existing rows, in one rewrite of the table."""
    cur.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'search_vector'",
        (_table_name(t, "messages"),),
    )
    if cur.fetchone() is not None:
        # a trigger whose WHEN reads search_vector (step 56's customer_search_edit) blocks the
        # type change: it is dropped for it and made again from its own definition
        cur.execute(
            """SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger
               WHERE tgrelid = %s::regclass AND NOT tgisinternal
                 AND pg_get_triggerdef(oid) LIKE '%%search_vector%%'""",
            (_table_name(t, "messages"),),
        )
        blocking = cur.fetchall()
        for trig in blocking:
            cur.execute(
                psycopg.sql.SQL("DROP TRIGGER {} ON {}").format(
                    psycopg.sql.Identifier(trig["tgname"]), t.messages
                )
            )
        cur.execute(
            t.query(
                "ALTER TABLE {messages} ALTER COLUMN search_vector TYPE tsvector "
                "USING wacrm_message_search_vector(message, caption)"
            )
        )
        for trig in blocking:
            cur.execute(trig["def"])


def _fill_search_doc(cur: psycopg.Cursor[Any], t: AgentTables) -> None:
    """The customers' search document (per-agent step 56), which the messages' statement trigger
    fills on insert: the COPY ran with the triggers off, so it is filled here as step 56 does."""
    cur.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'search_doc'",
        (_table_name(t, "customers"),),
    )
    if cur.fetchone() is not None:
        cur.execute(
            t.query(
                "UPDATE {customers} c SET search_doc = wacrm_customer_name_words(c.name, c.username)"
                " || coalesce(x.words, ''::tsvector)"
                " FROM {customers} c2 LEFT JOIN ("
                "  SELECT m.customer_id, array_to_tsvector(array_agg(DISTINCT w.word)) AS words"
                "  FROM {messages} m CROSS JOIN LATERAL unnest(tsvector_to_array(m.search_vector))"
                "    AS w(word) WHERE m.search_vector IS NOT NULL GROUP BY m.customer_id"
                " ) x ON x.customer_id = c2.id WHERE c.id = c2.id"
            )
        )


def _rebuild(url: str, rebuild: list[str]) -> None:
    """The agent's own index definitions (read from the catalog) on two connections at once, the
    biggest (the text-search GIN) first; then the foreign keys."""
    indexes = sorted(
        (d for d in rebuild if d.startswith("CREATE")), key=lambda d: "USING gin" not in d
    )
    lanes: list[list[str]] = [indexes[0::2], indexes[1::2]]

    def run(statements: list[str]) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            for ddl in statements:
                conn.execute(ddl)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, lanes))
    run([d for d in rebuild if not d.startswith("CREATE")])


def _quoted(cur: psycopg.Cursor[Any], t: AgentTables, suffix: str) -> str:
    return sql.Identifier(_table_name(t, suffix)).as_string(cur)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--prefix", default=None, help="agent prefix (default agt_<id>)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = seed(
        args.database_url,
        customers=args.customers,
        messages=args.messages,
        prefix=args.prefix,
        rng_seed=args.seed,
        orders=args.orders,
    )
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
