-- Broadcasts (docs/whatsapp.md, "Broadcasts"; docs/schema.md): an approved template with its
-- parameters sent to an audience of a workspace's customers through the outbound schedule's bulk
-- lane, with its recipients (one message each) for the counters, replies and cancelling.

CREATE TABLE broadcasts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  template_name text NOT NULL,
  template_language text NOT NULL,
  params jsonb NOT NULL DEFAULT '[]',      -- body parameters; {name}, {first_name}, {phone} per customer
  audience jsonb NOT NULL DEFAULT '{}',    -- labels, last_contact_after/before, has_orders, opted_in_only
  state text NOT NULL DEFAULT 'scheduled'
    CHECK (state IN ('scheduled', 'running', 'sent', 'cancelled', 'failed')),
  scheduled_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  queued_at timestamptz,                   -- every recipient's message queued
  cancelled_at timestamptz,
  recipients integer,
  skipped integer,
  failure text,
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX broadcasts_agent_idx ON broadcasts (agent_id, id DESC);
CREATE INDEX broadcasts_due_idx ON broadcasts (scheduled_at) WHERE state = 'scheduled';

CREATE TABLE broadcast_recipients (
  broadcast_id bigint NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
  customer_id integer NOT NULL,
  message_id integer,                      -- the agent's messages row, once queued
  queued_at timestamptz,
  skipped text,                            -- why no message was queued (opted out meanwhile)
  PRIMARY KEY (broadcast_id, customer_id)
);
CREATE INDEX broadcast_recipients_pending_idx ON broadcast_recipients (broadcast_id)
  WHERE queued_at IS NULL;

-- Outgoing webhooks: conversation.updated from the team inbox's conversation events (status,
-- assignee, labels), one event per row.
CREATE OR REPLACE FUNCTION wacrm_hook_conversation_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  rows jsonb;
BEGIN
  IF NOT wacrm_hook_listens(a_id, 'conversation.updated') THEN RETURN NULL; END IF;
  SELECT jsonb_agg(jsonb_build_object('customer_id', n.customer_id, 'kind', n.kind,
    'from', n.from_value, 'to', n.to_value, 'actor_id', n.actor_id, 'changed_at', n.created_at)
    ORDER BY n.id) INTO rows FROM new_rows n;
  IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'conversation.updated', rows); END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0092(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    CREATE TRIGGER hook_conversation_events_insert AFTER INSERT ON %1$I
      REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_hook_conversation_events(%2$s);
  $ddl$, p || '_conversation_events', a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (92, 'wacrm_agent_step_0092', 'outgoing webhooks: conversation.updated')
ON CONFLICT (version) DO NOTHING;
