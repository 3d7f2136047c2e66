-- Outbound sending: the send state of each outbound message (lease, attempts), the shared rate
-- limiter buckets, files uploaded for sending, cached message templates, and per-agent order
-- notification settings. See docs/schema.md, "Outbound".

CREATE TABLE IF NOT EXISTS outbound_sends (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  message_id integer NOT NULL,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'done')),
  attempts integer NOT NULL DEFAULT 0,
  lease_until timestamptz,
  pair_slot_at timestamptz,
  job_id bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, message_id)
);
CREATE INDEX IF NOT EXISTS outbound_sends_lease_idx ON outbound_sends (lease_until) WHERE state = 'sending';

-- Token buckets shared by every worker: one row per phone number ('n:<id>') and per
-- (phone number, customer) pair ('p:<id>:<recipient>'). Tokens may go negative: a negative
-- balance is a reserved future slot, and the caller waits until it comes.
CREATE TABLE IF NOT EXISTS outbound_rate_buckets (
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS outbound_media (
  id bigserial PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'document', 'sticker')),
  filename text NOT NULL,
  mime_type text NOT NULL,
  size bigint NOT NULL,
  sha256 text NOT NULL,
  data bytea NOT NULL,
  uploaded_by uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbound_media_agent_idx ON outbound_media (agent_id, id);

CREATE TABLE IF NOT EXISTS whatsapp_templates (
  config_id bigint NOT NULL REFERENCES whatsapp_configuration(id) ON DELETE CASCADE,
  name text NOT NULL,
  language text NOT NULL,
  status text,
  category text,
  components jsonb NOT NULL DEFAULT '[]',
  fetched_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (config_id, name, language)
);

CREATE TABLE IF NOT EXISTS order_notification_settings (
  agent_id bigint PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  text_template text NOT NULL DEFAULT 'Your order #{order_id} is now {status}.',
  template_name text NOT NULL DEFAULT 'order_update',
  template_language text NOT NULL DEFAULT 'en_US',
  updated_at timestamptz NOT NULL DEFAULT now()
);
