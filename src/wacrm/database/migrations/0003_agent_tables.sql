-- Per-agent tables: ONE definition, as ordered steps. An agent's tables are at
-- agents.schema_version; wacrm_upgrade_agent() applies every later step to them. Provisioning a
-- new agent and migrating existing ones therefore run the very same SQL. Identifiers are quoted
-- with format('%I'); prefixes are checked against ^agt_[a-z0-9]{1,32}$ before any DDL runs.

CREATE TABLE IF NOT EXISTS agent_schema_steps (
  version integer PRIMARY KEY,
  function_name text NOT NULL,
  description text NOT NULL
);

CREATE OR REPLACE FUNCTION wacrm_check_prefix(p text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p IS NULL OR p !~ '^agt_[a-z0-9]{1,32}$' THEN
    RAISE EXCEPTION 'invalid agent prefix %: must match ^agt_[a-z0-9]{1,32}$', quote_literal(p)
      USING ERRCODE = '22023';
  END IF;
END $$;

-- Which steps each agent's tables have. A set, not a high-water mark: a step added later with a
-- lower number than one already applied (parallel development) still runs for every agent.
CREATE TABLE IF NOT EXISTS agent_schema_applied (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  version integer NOT NULL REFERENCES agent_schema_steps(version),
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, version)
);

-- Apply every step the agent's tables do not have yet, in version order.
-- agents.schema_version is kept as the newest applied step (for people and reports); an agent
-- registered with schema_version N and no applied rows (adoption, takeover) has steps <= N.
CREATE OR REPLACE FUNCTION wacrm_upgrade_agent(a_id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  p text;
  v integer;
  step record;
BEGIN
  SELECT agent_prefix, schema_version INTO p, v FROM agents WHERE id = a_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no agent with id %', a_id USING ERRCODE = 'P0002';
  END IF;
  PERFORM wacrm_check_prefix(p);
  IF v > 0 AND NOT EXISTS (SELECT 1 FROM agent_schema_applied WHERE agent_id = a_id) THEN
    INSERT INTO agent_schema_applied (agent_id, version)
      SELECT a_id, s.version FROM agent_schema_steps s WHERE s.version <= v;
  END IF;
  FOR step IN SELECT s.version, s.function_name FROM agent_schema_steps s
              WHERE NOT EXISTS (SELECT 1 FROM agent_schema_applied x
                                WHERE x.agent_id = a_id AND x.version = s.version)
              ORDER BY s.version LOOP
    EXECUTE format('SELECT %I($1, $2)', step.function_name) USING p, a_id;
    INSERT INTO agent_schema_applied (agent_id, version) VALUES (a_id, step.version);
  END LOOP;
  SELECT coalesce(max(version), 0) INTO v FROM agent_schema_applied WHERE agent_id = a_id;
  UPDATE agents SET schema_version = v WHERE id = a_id AND schema_version IS DISTINCT FROM v;
  RETURN v;
END $$;

CREATE OR REPLACE FUNCTION wacrm_upgrade_all_agents() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  a record;
  n integer := 0;
BEGIN
  FOR a IN SELECT ag.id FROM agents ag
           WHERE EXISTS (SELECT 1 FROM agent_schema_steps s
                         WHERE NOT EXISTS (SELECT 1 FROM agent_schema_applied x
                                           WHERE x.agent_id = ag.id AND x.version = s.version))
           ORDER BY ag.id LOOP
    PERFORM wacrm_upgrade_agent(a.id);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- Step 1: the seed's per-agent tables as the seed gives them (its invalid DEFAULT for
-- orders_items.total left out; step 2 makes it a generated column).
CREATE OR REPLACE FUNCTION wacrm_agent_step_0001(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    CREATE SEQUENCE %1$I;
    CREATE TABLE public.%2$I (
      id integer NOT NULL DEFAULT nextval(%3$L::regclass),
      agent_id bigint NOT NULL DEFAULT %4$s::bigint,
      name text NOT NULL,
      phone text NOT NULL,
      created_at timestamp without time zone DEFAULT now(),
      profile_image_url text,
      CONSTRAINT %5$I PRIMARY KEY (id),
      CONSTRAINT %6$I FOREIGN KEY (agent_id) REFERENCES public.agents(id)
    );
    ALTER SEQUENCE %1$I OWNED BY %2$I.id;
  $ddl$, p || '_customers_id_seq', p || '_customers', 'public.' || quote_ident(p || '_customers_id_seq'),
     a_id, p || '_customers_pkey', p || '_customers_agent_id_fkey');

  EXECUTE format($ddl$
    CREATE SEQUENCE %1$I;
    CREATE TABLE public.%2$I (
      id integer NOT NULL DEFAULT nextval(%3$L::regclass),
      customer_id integer NOT NULL,
      message text NOT NULL,
      direction character varying NOT NULL CHECK (direction::text = ANY (ARRAY['inbound'::character varying, 'outbound'::character varying]::text[])),
      "timestamp" timestamp without time zone DEFAULT now(),
      is_read boolean DEFAULT false,
      media_type media_type DEFAULT 'none'::media_type,
      media_url text,
      caption text,
      CONSTRAINT %4$I PRIMARY KEY (id),
      CONSTRAINT %5$I FOREIGN KEY (customer_id) REFERENCES public.%6$I(id)
    );
    ALTER SEQUENCE %1$I OWNED BY %2$I.id;
  $ddl$, p || '_messages_id_seq', p || '_messages', 'public.' || quote_ident(p || '_messages_id_seq'),
     p || '_messages_pkey', p || '_messages_customer_id_fkey', p || '_customers');

  EXECUTE format($ddl$
    CREATE SEQUENCE %1$I;
    CREATE TABLE public.%2$I (
      id integer NOT NULL DEFAULT nextval(%3$L::regclass),
      customer_id integer NOT NULL,
      total_amount numeric DEFAULT 0,
      status character varying DEFAULT 'pending'::character varying,
      notes text,
      shipping_address text,
      created_at timestamp without time zone DEFAULT now(),
      updated_at timestamp without time zone DEFAULT now(),
      CONSTRAINT %4$I PRIMARY KEY (id),
      CONSTRAINT %5$I FOREIGN KEY (customer_id) REFERENCES public.%6$I(id)
    );
    ALTER SEQUENCE %1$I OWNED BY %2$I.id;
  $ddl$, p || '_orders_id_seq', p || '_orders', 'public.' || quote_ident(p || '_orders_id_seq'),
     p || '_orders_pkey', p || '_orders_customer_id_fkey', p || '_customers');

  EXECUTE format($ddl$
    CREATE SEQUENCE %1$I;
    CREATE TABLE public.%2$I (
      id integer NOT NULL DEFAULT nextval(%3$L::regclass),
      order_id integer NOT NULL,
      name text NOT NULL,
      quantity integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
      price numeric NOT NULL DEFAULT 0 CHECK (price >= 0::numeric),
      total numeric,
      created_at timestamp without time zone DEFAULT now(),
      CONSTRAINT %4$I PRIMARY KEY (id),
      CONSTRAINT %5$I FOREIGN KEY (order_id) REFERENCES public.%6$I(id)
    );
    ALTER SEQUENCE %1$I OWNED BY %2$I.id;
  $ddl$, p || '_orders_items_id_seq', p || '_orders_items', 'public.' || quote_ident(p || '_orders_items_id_seq'),
     p || '_orders_items_pkey', p || '_orders_items_order_id_fkey', p || '_orders');
END $$;

-- Step 2: the seed's known faults fixed, and what the product needs (docs/schema.md).
CREATE OR REPLACE FUNCTION wacrm_agent_step_0002(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
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
      ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
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
      ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
      ALTER COLUMN updated_at TYPE timestamptz USING updated_at AT TIME ZONE 'UTC',
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
      ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
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
      ALTER COLUMN "timestamp" TYPE timestamptz USING "timestamp" AT TIME ZONE 'UTC',
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

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (1, 'wacrm_agent_step_0001', 'seed per-agent tables'),
  (2, 'wacrm_agent_step_0002', 'seed faults fixed; identity, inbox, message, order columns; order history')
ON CONFLICT (version) DO NOTHING;

-- Adopting a database made from the seed: its agents' tables already exist in the seed's shape
-- (step 1). Prefixes written with the seed's trailing underscore (agt_3784_) are normalised.
UPDATE agents SET agent_prefix = rtrim(agent_prefix, '_')
 WHERE agent_prefix ~ '^agt_[a-z0-9]{1,32}_$';
UPDATE agents SET schema_version = 1
 WHERE schema_version = 0 AND to_regclass('public.' || quote_ident(agent_prefix || '_customers')) IS NOT NULL;
ALTER TABLE agents VALIDATE CONSTRAINT agents_prefix_format;
