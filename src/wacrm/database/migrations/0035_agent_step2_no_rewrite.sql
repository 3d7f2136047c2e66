-- Provisioning cost (docs/performance.md, "Agent provisioning"): per-agent step 2, same end state,
-- fewer table rewrites. Step 2 turned `timestamp` columns into `timestamptz` with
-- `USING col AT TIME ZONE 'UTC'`, which PostgreSQL executes as a rewrite of the whole table (new
-- files for the table, its TOAST table and every index): three of the four rewrites of step 2, and
-- on an adopted seed database a full copy of every customer, order and message. The plain cast
-- timestamp -> timestamptz reads a value in the session's time zone; with the function's own
-- `SET TimeZone = 'UTC'` that is exactly `AT TIME ZONE 'UTC'` (same instants, infinities kept),
-- and PostgreSQL (12+) knows the two types then share their bits and changes only the catalogue.
-- The caller's time zone is restored when the function returns. The one rewrite left is
-- orders_items (a stored generated column must be computed). Everything else is as in 0003:
-- this replaces step 2's body; the step keeps its number, its meaning and its end state
-- (tests/agents/test_provisioning_bulk.py compares the catalogue of both versions).

-- Step 2: the seed's known faults fixed, and what the product needs (docs/schema.md).
CREATE OR REPLACE FUNCTION wacrm_agent_step_0002(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql
SET TimeZone = 'UTC'
AS $$
DECLARE
  c text := p || '_customers';
  m text := p || '_messages';
  o text := p || '_orders';
  i text := p || '_orders_items';
  h text := p || '_orders_history';
BEGIN
  -- Customers: the owning agent as default, timestamptz, identity by phone or BSUID, inbox state.
  EXECUTE format($ddl$
    ALTER TABLE %1$I
      ALTER COLUMN agent_id SET DEFAULT %2$s::bigint,
      ALTER COLUMN created_at TYPE timestamptz,
      ALTER COLUMN phone DROP NOT NULL,
      ADD COLUMN wa_id text,
      ADD COLUMN bsuid text,
      ADD COLUMN parent_bsuid text,
      ADD COLUMN username text,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN last_message_at timestamptz,
      ADD COLUMN last_inbound_at timestamptz,
      ADD COLUMN last_message_id integer,
      ADD COLUMN unread_count integer NOT NULL DEFAULT 0,
      ADD CONSTRAINT %3$I CHECK (phone IS NOT NULL OR bsuid IS NOT NULL);
    CREATE UNIQUE INDEX %4$I ON %1$I (phone) WHERE phone IS NOT NULL;
    CREATE UNIQUE INDEX %5$I ON %1$I (bsuid) WHERE bsuid IS NOT NULL;
    CREATE INDEX %6$I ON %1$I (last_message_at DESC NULLS LAST, id DESC);
  $ddl$, c, a_id, c || '_phone_or_bsuid', c || '_phone_key', c || '_bsuid_key', c || '_activity_idx');

  -- Orders: timestamptz, currency, provenance (a WhatsApp catalog order is created once).
  EXECUTE format($ddl$
    ALTER TABLE %1$I
      ALTER COLUMN created_at TYPE timestamptz,
      ALTER COLUMN updated_at TYPE timestamptz,
      ADD COLUMN currency char(3) NOT NULL DEFAULT 'USD',
      ADD COLUMN source text NOT NULL DEFAULT 'manual',
      ADD COLUMN source_wamid text,
      ADD COLUMN catalog_id text,
      ADD COLUMN created_by uuid;
    CREATE UNIQUE INDEX %2$I ON %1$I (source_wamid) WHERE source_wamid IS NOT NULL;
    CREATE INDEX %3$I ON %1$I (customer_id, created_at DESC);
    CREATE INDEX %4$I ON %1$I (created_at DESC, id DESC);
  $ddl$, o, o || '_source_wamid_key', o || '_customer_idx', o || '_created_idx');

  -- Order items: the seed's intended DEFAULT (quantity * price) as a generated column.
  EXECUTE format($ddl$
    ALTER TABLE %1$I
      DROP COLUMN total,
      ADD COLUMN total numeric GENERATED ALWAYS AS (quantity::numeric * price) STORED,
      ALTER COLUMN created_at TYPE timestamptz,
      ADD COLUMN product_retailer_id text,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
    CREATE INDEX %2$I ON %1$I (order_id);
  $ddl$, i, i || '_order_idx');

  -- Order status history: who changed what, when.
  EXECUTE format($ddl$
    CREATE TABLE %1$I (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      order_id integer NOT NULL REFERENCES %2$I(id) ON DELETE CASCADE,
      from_status text,
      to_status text NOT NULL,
      changed_by uuid,
      changed_at timestamptz NOT NULL DEFAULT now(),
      note text
    );
    CREATE INDEX %3$I ON %1$I (order_id, changed_at);
  $ddl$, h, o, h || '_order_idx');

  -- Messages: timestamptz, WhatsApp ids (unique wamid: exactly-once), status, errors, media, raw JSON.
  EXECUTE format($ddl$
    ALTER TABLE %1$I
      ALTER COLUMN "timestamp" TYPE timestamptz,
      ADD COLUMN wamid text,
      ADD COLUMN wa_type text,
      ADD COLUMN status text,
      ADD COLUMN status_at timestamptz,
      ADD COLUMN error_code integer,
      ADD COLUMN error_title text,
      ADD COLUMN error_details text,
      ADD COLUMN context_wamid text,
      ADD COLUMN reaction text,
      ADD COLUMN agent_reaction text,
      ADD COLUMN order_id integer REFERENCES %2$I(id),
      ADD COLUMN media_id text,
      ADD COLUMN media_mime_type text,
      ADD COLUMN media_sha256 text,
      ADD COLUMN media_size bigint,
      ADD COLUMN media_filename text,
      ADD COLUMN media_status text,
      ADD COLUMN media_error text,
      ADD COLUMN raw jsonb,
      ADD COLUMN payload jsonb,
      ADD COLUMN sent_by uuid,
      ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
    CREATE UNIQUE INDEX %3$I ON %1$I (wamid);
    CREATE INDEX %4$I ON %1$I (customer_id, "timestamp" DESC, id DESC);
    CREATE INDEX %5$I ON %1$I USING gin (to_tsvector('simple', message));
  $ddl$, m, o, m || '_wamid_key', m || '_customer_time_idx', m || '_text_search_idx');

  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (last_message_id) REFERENCES %I(id) DEFERRABLE INITIALLY DEFERRED',
                 c, c || '_last_message_fkey', m);
END $$;
