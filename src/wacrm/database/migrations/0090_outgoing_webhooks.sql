-- Outgoing webhooks (docs/integrations.md, docs/schema.md "Outgoing webhooks"): HTTPS endpoints
-- per workspace, the events they hear about, and every delivery with its attempts.
--
-- Events are written by statement-level triggers on the agent's tables (step 90), in the
-- transaction that made the change: an event exists exactly when its change committed, whatever
-- code path made it (webhook batches, the API, imports). A trigger returns at once when the agent
-- has no enabled endpoint for that event, so workspaces without webhooks pay one index probe per
-- statement. A periodic task turns due deliveries into pgqueuer jobs (wacrm.hooks.tasks).

CREATE TABLE hook_endpoints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  url text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
  description text CHECK (length(description) <= 200),
  events text[] NOT NULL CHECK (cardinality(events) > 0),
  secret text NOT NULL,                  -- encrypted (wacrm.security.crypto)
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  disabled_at timestamptz,
  failure_streak integer NOT NULL DEFAULT 0,
  failing_since timestamptz,
  last_success_at timestamptz,
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hook_endpoints_agent_idx ON hook_endpoints (agent_id) WHERE enabled;

CREATE TABLE hook_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  event text NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hook_events_created_idx ON hook_events (created_at);

CREATE TABLE hook_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  endpoint_id bigint NOT NULL REFERENCES hook_endpoints(id) ON DELETE CASCADE,
  event_id uuid NOT NULL REFERENCES hook_events(id) ON DELETE CASCADE,
  state text NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'queued', 'sending', 'delivered', 'retry', 'failed', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  last_status integer,
  last_error text,
  last_duration_ms integer,
  last_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hook_deliveries_due_idx ON hook_deliveries (next_attempt_at)
  WHERE state IN ('pending', 'retry');
CREATE INDEX hook_deliveries_lease_idx ON hook_deliveries (lease_until)
  WHERE state IN ('queued', 'sending');
CREATE INDEX hook_deliveries_endpoint_idx ON hook_deliveries (endpoint_id, id DESC);
CREATE INDEX hook_deliveries_event_idx ON hook_deliveries (event_id);

-- Record one event (an id, its data) and a pending delivery for each enabled endpoint of the
-- agent that listens to it. Callable from code too (events not tied to one table).
CREATE OR REPLACE FUNCTION wacrm_hook_emit(a_id bigint, ev text, rows jsonb) RETURNS void
LANGUAGE sql AS $$
  WITH e AS (
    INSERT INTO hook_events (agent_id, event, data)
    SELECT a_id, ev, r FROM jsonb_array_elements(rows) r
    RETURNING id
  )
  INSERT INTO hook_deliveries (endpoint_id, event_id)
  SELECT p.id, e.id FROM e
  JOIN hook_endpoints p ON p.agent_id = a_id AND p.enabled AND ev = ANY (p.events)
$$;

CREATE OR REPLACE FUNCTION wacrm_hook_listens(a_id bigint, ev text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT FROM hook_endpoints WHERE agent_id = a_id AND enabled AND ev = ANY (events))
$$;

-- messages: inbound inserts are message.received; status changes of outbound messages to a
-- state WhatsApp reported (sent, delivered, read, played, failed) are message.status.
CREATE OR REPLACE FUNCTION wacrm_hook_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  customers text := left(TG_TABLE_NAME, -length('_messages')) || '_customers';
  rows jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT wacrm_hook_listens(a_id, 'message.received') THEN RETURN NULL; END IF;
    EXECUTE format($q$
      SELECT jsonb_agg(jsonb_build_object(
        'message', jsonb_build_object('id', n.id, 'wamid', n.wamid, 'type', n.wa_type,
          'text', n.message, 'caption', n.caption, 'media_type', n.media_type,
          'timestamp', n."timestamp", 'reply_to_wamid', n.context_wamid),
        'customer', jsonb_build_object('id', c.id, 'name', c.name, 'phone', c.phone,
          'bsuid', c.bsuid, 'username', c.username)) ORDER BY n.id)
      FROM new_rows n JOIN %I c ON c.id = n.customer_id WHERE n.direction = 'inbound'
    $q$, customers) INTO rows;
    IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'message.received', rows); END IF;
  ELSE
    IF NOT wacrm_hook_listens(a_id, 'message.status') THEN RETURN NULL; END IF;
    SELECT jsonb_agg(jsonb_build_object(
      'message_id', n.id, 'customer_id', n.customer_id, 'wamid', n.wamid, 'status', n.status,
      'previous_status', o.status, 'status_at', n.status_at, 'error_code', n.error_code,
      'error_title', n.error_title, 'error_details', n.error_details) ORDER BY n.id)
    INTO rows
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.direction = 'outbound' AND n.status IS DISTINCT FROM o.status
      AND n.status IN ('sent', 'delivered', 'read', 'played', 'failed');
    IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'message.status', rows); END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_hook_customers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  rows jsonb;
BEGIN
  IF NOT wacrm_hook_listens(a_id, 'customer.created') THEN RETURN NULL; END IF;
  SELECT jsonb_agg(jsonb_build_object('customer', jsonb_build_object(
    'id', n.id, 'name', n.name, 'phone', n.phone, 'bsuid', n.bsuid, 'username', n.username,
    'created_at', n.created_at)) ORDER BY n.id) INTO rows FROM new_rows n;
  IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'customer.created', rows); END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_hook_orders() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  rows jsonb;
BEGIN
  IF NOT wacrm_hook_listens(a_id, 'order.created') THEN RETURN NULL; END IF;
  SELECT jsonb_agg(jsonb_build_object('order', jsonb_build_object(
    'id', n.id, 'customer_id', n.customer_id, 'status', n.status, 'total_amount', n.total_amount::text,
    'currency', n.currency, 'source', n.source, 'notes', n.notes, 'created_at', n.created_at))
    ORDER BY n.id) INTO rows FROM new_rows n;
  IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'order.created', rows); END IF;
  RETURN NULL;
END $$;

-- order.status_changed from the order's history (every status change writes one row there).
CREATE OR REPLACE FUNCTION wacrm_hook_order_history() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  orders text := left(TG_TABLE_NAME, -length('_orders_history')) || '_orders';
  rows jsonb;
BEGIN
  IF NOT wacrm_hook_listens(a_id, 'order.status_changed') THEN RETURN NULL; END IF;
  EXECUTE format($q$
    SELECT jsonb_agg(jsonb_build_object('order_id', n.order_id, 'customer_id', o.customer_id,
      'from_status', n.from_status, 'to_status', n.to_status, 'changed_at', n.changed_at,
      'changed_by', n.changed_by, 'note', n.note, 'total_amount', o.total_amount::text,
      'currency', o.currency) ORDER BY n.id)
    FROM new_rows n JOIN %I o ON o.id = n.order_id
    WHERE n.from_status IS DISTINCT FROM n.to_status AND n.from_status IS NOT NULL
  $q$, orders) INTO rows;
  IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'order.status_changed', rows); END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0090(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    CREATE TRIGGER hook_messages_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_hook_messages(%5$s);
    CREATE TRIGGER hook_messages_update AFTER UPDATE ON %1$I
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_hook_messages(%5$s);
    CREATE TRIGGER hook_customers_insert AFTER INSERT ON %2$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_hook_customers(%5$s);
    CREATE TRIGGER hook_orders_insert AFTER INSERT ON %3$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_hook_orders(%5$s);
    CREATE TRIGGER hook_orders_history_insert AFTER INSERT ON %4$I
      REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_hook_order_history(%5$s);
  $ddl$, p || '_messages', p || '_customers', p || '_orders', p || '_orders_history', a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (90, 'wacrm_agent_step_0090', 'outgoing webhooks: event triggers')
ON CONFLICT (version) DO NOTHING;
