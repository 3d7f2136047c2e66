"""The statements that write inbound rows of one agent, composed once per agent (`for_agent`).

Rows travel as JSON arrays (`json_to_recordset`): orjson dumps them far cheaper than psycopg
dumps Python lists element by element. Customers are found again by BSUID, else by phone: the
identity statement of `wacrm.customers.service` has made them earlier in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from wacrm.agents.tables import AgentTables
from wacrm.realtime.events import notify_sql

# the customer of a row with `phone` and `bsuid` fields
_CUSTOMER_OF = """CASE WHEN {row}.bsuid IS NOT NULL
       THEN (SELECT id FROM {{customers}} WHERE bsuid = {row}.bsuid)
       ELSE (SELECT id FROM {{customers}} WHERE phone = {row}.phone) END"""

# the statuses of one round: applied where they raise a message's status, kept as early statuses
# where the message is not there (yet); `upd` returns the changed messages
_STATUS_CTES = """s AS (
      SELECT * FROM json_to_recordset(%(statuses)s::json)
        AS s(wamid text, status text, ts timestamptz, code int, title text, details text)
    ), upd AS (
      UPDATE {messages} m SET status = s.status, status_at = s.ts,
        error_code = CASE WHEN s.status = 'failed' THEN s.code ELSE m.error_code END,
        error_title = CASE WHEN s.status = 'failed' THEN s.title ELSE m.error_title END,
        error_details = CASE WHEN s.status = 'failed' THEN s.details ELSE m.error_details END
      FROM s WHERE m.wamid = s.wamid AND m.wamid = ANY (ARRAY(SELECT wamid FROM s))
        AND wacrm_status_rank(s.status) > wacrm_status_rank(m.status)
      RETURNING m.id, m.customer_id
    ), early AS (
      INSERT INTO inbound_early_statuses (agent_id, wamid, status, status_at, error_code,
                                          error_title, error_details)
      SELECT %(agent_id)s, s.wamid, s.status, s.ts, s.code, s.title, s.details FROM s
      WHERE (SELECT e.id FROM {messages} e WHERE e.wamid = s.wamid LIMIT 1) IS NULL
      ON CONFLICT DO NOTHING
    )"""

# The customer's search document with the new messages' words, as the messages' trigger
# `customer_search_words` (migration 0056) would write it after the statement: written here, in
# the one update of the customer, that trigger finds every word there and writes nothing (one
# new row version of the customer per batch instead of two, each with all its index entries).
_SEARCH_DOC = """CASE
          WHEN t.words IS NULL
            OR tsvector_to_array(t.words) <@ tsvector_to_array(coalesce(c.search_doc, ''::tsvector))
            THEN c.search_doc
          WHEN length(coalesce(c.search_doc, ''::tsvector)) + length(t.words) > 2000
            THEN wacrm_customer_name_words(
                   CASE WHEN c.name_by_agent THEN c.name ELSE coalesce(t.name, c.name) END,
                   coalesce(t.username, c.username)) || t.words
          ELSE coalesce(c.search_doc, ''::tsvector) || t.words END"""

# The messages, the senders' profile fields, the customers' counters and the first round of
# statuses of one agent's part of a batch: ONE statement (one snapshot; no row touched twice: one
# UPDATE of each customer). Profile fields are written only where they change something; a name
# the agent gave (name_by_agent) is kept, the WhatsApp profile name goes beside it.
_MESSAGES_CTES = (
    """
    WITH x AS (
      SELECT * FROM json_to_recordset(%(messages)s::json) AS x(o int, phone text, bsuid text,
        text text, ts timestamptz, media_type text, caption text, wamid text, wa_type text,
        context text, media_id text, mime text, sha256 text, size bigint, filename text,
        media_status text, is_order boolean, raw jsonb)
    ), pr AS (
      SELECT q.id,
        (array_agg(q.name ORDER BY q.o DESC) FILTER (WHERE q.name IS NOT NULL))[1] AS name,
        (array_agg(q.username ORDER BY q.o DESC) FILTER (WHERE q.username IS NOT NULL))[1]
          AS username,
        (array_agg(q.parent ORDER BY q.o DESC) FILTER (WHERE q.parent IS NOT NULL))[1] AS parent
      FROM (
        SELECT CASE WHEN p.bsuid IS NOT NULL
                    THEN (SELECT e.id FROM {customers} e WHERE e.bsuid = p.bsuid LIMIT 1)
                    ELSE (SELECT e.id FROM {customers} e WHERE e.phone = p.phone LIMIT 1) END AS id,
          p.o, p.name, p.username, p.parent
        FROM json_to_recordset(%(profiles)s::json)
          AS p(o int, phone text, bsuid text, name text, username text, parent text)
      ) q WHERE q.id IS NOT NULL GROUP BY q.id
    ), ins AS (
      INSERT INTO {messages} (customer_id, message, direction, "timestamp", is_read, media_type,
        caption, wamid, wa_type, status, status_at, context_wamid, media_id, media_mime_type,
        media_sha256, media_size, media_filename, media_status, order_id, raw)
      SELECT """
    + _CUSTOMER_OF.format(row="x")
    + """,
        x.text, 'inbound', x.ts, false, x.media_type::media_type, x.caption, x.wamid, x.wa_type,
        'received', x.ts, x.context, x.media_id, x.mime, x.sha256, x.size, x.filename,
        x.media_status,
        CASE WHEN x.is_order THEN (SELECT id FROM {orders} WHERE source_wamid = x.wamid) END,
        x.raw::jsonb
      FROM x ORDER BY x.o
      ON CONFLICT (wamid) DO NOTHING
      RETURNING id, customer_id, "timestamp", order_id, search_vector
    ), agg AS (
      SELECT customer_id, count(*) AS n, max("timestamp") AS ts,
             (array_agg(id ORDER BY "timestamp" DESC, id DESC))[1] AS last_id
      FROM ins GROUP BY customer_id
    ), w AS (
      SELECT i.customer_id, array_to_tsvector(array_agg(DISTINCT v.word)) AS words
      FROM ins i CROSS JOIN LATERAL unnest(tsvector_to_array(i.search_vector)) AS v(word)
      WHERE i.search_vector IS NOT NULL GROUP BY i.customer_id
    ), t AS (
      SELECT coalesce(agg.customer_id, pr.id) AS id, agg.n, agg.ts, agg.last_id,
             pr.name, pr.username, pr.parent, w.words
      FROM agg FULL JOIN pr ON pr.id = agg.customer_id LEFT JOIN w ON w.customer_id = agg.customer_id
    ), cu AS (
      UPDATE {customers} c SET unread_count = c.unread_count + coalesce(t.n, 0),
        last_message_at = greatest(c.last_message_at, t.ts),
        last_inbound_at = greatest(c.last_inbound_at, t.ts),
        last_message_id = CASE WHEN t.ts IS NOT NULL
                                    AND (c.last_message_at IS NULL OR t.ts >= c.last_message_at)
                               THEN t.last_id ELSE c.last_message_id END,
        name = CASE WHEN c.name_by_agent THEN c.name ELSE coalesce(t.name, c.name) END,
        profile_name = coalesce(t.name, c.profile_name),
        username = coalesce(t.username, c.username),
        parent_bsuid = coalesce(t.parent, c.parent_bsuid),
        search_doc = """
    + _SEARCH_DOC
    + """,
        updated_at = now()
      FROM t WHERE c.id = t.id
        AND c.id = ANY (ARRAY(SELECT id FROM t))  -- index probes, never a table scan
        AND (t.n IS NOT NULL
          OR (t.name IS NOT NULL AND t.name IS DISTINCT FROM c.profile_name)
          OR (t.name IS NOT NULL AND c.name_by_agent IS NOT TRUE AND t.name IS DISTINCT FROM c.name)
          OR (t.username IS NOT NULL AND t.username IS DISTINCT FROM c.username)
          OR (t.parent IS NOT NULL AND t.parent IS DISTINCT FROM c.parent_bsuid))
    )"""
)
_EVENTS = " SELECT " + notify_sql(
    agent_id="%(agent_id)s",
    kind="ev.kind",
    customer_id="ev.customer_id",
    message_id="ev.id",
    order_id="ev.order_id",
)
MESSAGES = (
    _MESSAGES_CTES
    + ", "
    + _STATUS_CTES
    + """, ev AS (
      SELECT 'message' AS kind, 0 AS k, id, customer_id, order_id FROM ins
      UNION ALL SELECT 'status', 1, id, customer_id, NULL FROM upd
    )"""
    + _EVENTS
    + " FROM ev ORDER BY ev.k, ev.id"
)
# the same without statuses (most parts have none): less to plan, and no UPDATE of the messages
# (whose statement triggers would run for no row)
MESSAGES_ONLY = (
    _MESSAGES_CTES
    + """, ev AS (SELECT 'message' AS kind, id, customer_id, order_id FROM ins)"""
    + _EVENTS
    + " FROM ev ORDER BY ev.id"
)

# a further round of statuses (one per repeated wamid in the batch, so that they apply in order)
STATUSES = (
    "WITH "
    + _STATUS_CTES
    + " SELECT "
    + notify_sql(
        agent_id="%(agent_id)s", kind="'status'", customer_id="upd.customer_id", message_id="upd.id"
    )
    + " FROM upd"
)

# a catalog order (before its message, which links to it), its items and its first history row
ORDER = (
    """
    WITH o AS (
      INSERT INTO {orders} (customer_id, total_amount, notes, currency, source, source_wamid,
                            catalog_id, created_at, updated_at)
      SELECT """
    + _CUSTOMER_OF.format(row="x")
    + """, %(total)s, %(notes)s,
             coalesce(%(currency)s::text,
                      (SELECT a.default_currency FROM agents a WHERE a.id = %(agent_id)s), 'USD'),
             'whatsapp_catalog', %(wamid)s, %(catalog_id)s,
             %(ts)s, %(ts)s
      FROM (SELECT %(phone)s::text AS phone, %(bsuid)s::text AS bsuid) x
      ON CONFLICT (source_wamid) WHERE source_wamid IS NOT NULL DO NOTHING
      RETURNING id, customer_id
    ), items AS (
      INSERT INTO {orders_items} (order_id, name, product_retailer_id, quantity, price)
      SELECT o.id, x.rid, x.rid, x.qty, x.price
      FROM o, unnest(%(rids)s::text[], %(qtys)s::int[], %(prices)s::numeric[]) AS x(rid, qty, price)
    ), h AS (
      INSERT INTO {orders_history} (order_id, from_status, to_status, note)
      SELECT o.id, NULL, 'pending', 'ordered from the WhatsApp catalog' FROM o
    )
    SELECT """
    + notify_sql(
        agent_id="%(agent_id)s", kind="'order'", customer_id="o.customer_id", order_id="o.id"
    )
    + " FROM o"
)

# a reaction (an empty emoji removes it), after the messages of its batch part
REACTION = (
    """
    WITH upd AS (
      UPDATE {messages} SET reaction = nullif(%(emoji)s, '') WHERE wamid = %(target)s
      RETURNING id, customer_id)
    SELECT """
    + notify_sql(
        agent_id="%(agent_id)s",
        kind="'message'",
        customer_id="upd.customer_id",
        message_id="upd.id",
    )
    + " FROM upd"
)


# a customer's edit or revoke of a message (after the messages of its batch part); one that
# arrives before its original waits in inbound_early_changes (migration 0080)
CHANGE = (
    """
    WITH c AS (
      SELECT * FROM wacrm_message_change(%(prefix)s, %(agent_id)s, %(kind)s, %(target)s,
                                         %(change_wamid)s, %(text)s, %(caption)s, %(ts)s))
    SELECT """
    + notify_sql(
        agent_id="%(agent_id)s", kind="'message'", customer_id="c.customer_id", message_id="c.id"
    )
    + " FROM c"
)


# a customer's marketing preference from WhatsApp (`user_preferences`): reach's opt-in columns;
# an older preference than the one recorded changes nothing
PREFERENCE = (
    """
    WITH u AS (
      UPDATE {customers} c SET opted_in = %(opted_in)s, opt_in_changed_at = %(ts)s,
        opt_in_source = %(source)s, updated_at = now()
      WHERE c.id = (SELECT """
    + _CUSTOMER_OF.format(row="x")
    + """ FROM (SELECT %(phone)s::text AS phone, %(bsuid)s::text AS bsuid) x)
        AND (c.opt_in_changed_at IS NULL OR c.opt_in_changed_at <= %(ts)s)
      RETURNING c.id)
    SELECT """
    + notify_sql(agent_id="%(agent_id)s", kind="'customer'", customer_id="u.id")
    + " FROM u"
)


# messages the owner sent from the Business app (origin 'business_app': live, the conversation
# moves up) or the imported history (origin 'history': read, no conversation moves); never the
# unread count or last_inbound_at (the 24-hour window), so no automation follows them
COEXIST_MESSAGES = (
    """
    WITH x AS (
      SELECT * FROM json_to_recordset(%(messages)s::json) AS x(o int, phone text, bsuid text,
        text text, ts timestamptz, media_type text, caption text, wamid text, wa_type text,
        context text, media_id text, mime text, sha256 text, size bigint, filename text,
        media_status text, raw jsonb, origin text, status text, direction text)
    ), ins AS (
      INSERT INTO {messages} (customer_id, message, direction, "timestamp", is_read, media_type,
        caption, wamid, wa_type, status, status_at, context_wamid, media_id, media_mime_type,
        media_sha256, media_size, media_filename, media_status, raw, origin)
      SELECT """
    + _CUSTOMER_OF.format(row="x")
    + """,
        x.text, x.direction, x.ts, true, x.media_type::media_type, x.caption, x.wamid, x.wa_type,
        CASE WHEN x.direction = 'inbound' THEN 'received' ELSE x.status END, x.ts, x.context,
        x.media_id, x.mime, x.sha256, x.size, x.filename, x.media_status, x.raw, x.origin
      FROM x ORDER BY x.o
      ON CONFLICT (wamid) DO NOTHING
      RETURNING id, customer_id, "timestamp", origin
    ), agg AS (
      SELECT customer_id, max("timestamp") AS ts,
             (array_agg(id ORDER BY "timestamp" DESC, id DESC))[1] AS last_id
      FROM ins WHERE origin IN ('business_app', 'call') GROUP BY customer_id
    ), cu AS (
      UPDATE {customers} c SET last_message_at = greatest(c.last_message_at, agg.ts),
        last_message_id = CASE WHEN c.last_message_at IS NULL OR agg.ts >= c.last_message_at
                               THEN agg.last_id ELSE c.last_message_id END,
        updated_at = now()
      FROM agg WHERE c.id = agg.customer_id
    )
    SELECT """
    + notify_sql(
        agent_id="%(agent_id)s",
        kind="'message'",
        customer_id="ins.customer_id",
        message_id="ins.id",
    )
    + " FROM ins WHERE ins.origin IN ('business_app', 'call')"
)

# a name from the owner's phone address book (NULL: removed), kept apart from the profile name
# and the agent's name; shown as the customer's name only while neither is known
ADDRESS_BOOK = (
    """
    WITH u AS (
      UPDATE {customers} c SET address_book_name = %(name)s::text, address_book_at = %(ts)s,
        name = CASE WHEN coalesce(c.name, '') = '' AND %(name)s::text IS NOT NULL THEN %(name)s::text
                    ELSE c.name END,
        updated_at = now()
      WHERE c.phone = %(phone)s
        AND (c.address_book_at IS NULL OR c.address_book_at <= %(ts)s)
      RETURNING c.id)
    SELECT """
    + notify_sql(agent_id="%(agent_id)s", kind="'customer'", customer_id="u.id")
    + " FROM u"
)


@dataclass(frozen=True)
class AgentStatements:
    messages: str
    messages_only: str
    statuses: str
    order: str
    reaction: str
    change: str
    preference: str
    coexist_messages: str
    address_book: str


@lru_cache(maxsize=4096)
def for_agent(tables: AgentTables) -> AgentStatements:
    """The statements of one agent, composed once (no catalog lookups per batch)."""
    return AgentStatements(
        *(
            tables.query(q).as_string(None)
            for q in (
                MESSAGES,
                MESSAGES_ONLY,
                STATUSES,
                ORDER,
                REACTION,
                CHANGE,
                PREFERENCE,
                COEXIST_MESSAGES,
                ADDRESS_BOOK,
            )
        )
    )
