-- Core extensions beyond the seed: accounts (credentials, sessions, API tokens, throttling),
-- agent and WhatsApp configuration columns, and the raw webhook journal. See docs/schema.md.

ALTER TABLE users ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true;
ALTER TABLE users ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE IF NOT EXISTS user_credentials (
  user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  password_hash text NOT NULL,
  password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS user_sessions (
  id bigserial PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  ip text,
  user_agent text
);
CREATE INDEX IF NOT EXISTS user_sessions_user_id_idx ON user_sessions (user_id);

CREATE TABLE IF NOT EXISTS api_tokens (
  id bigserial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  token_hint text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE IF NOT EXISTS login_throttle (
  key text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  last_failure_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz
);

-- Agents: a user is linked to at most one agent; deactivation keeps the data.
ALTER TABLE agents ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS schema_version integer NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS notify_order_status boolean NOT NULL DEFAULT true;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS default_currency char(3) NOT NULL DEFAULT 'USD';
ALTER TABLE agents ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX IF NOT EXISTS agents_one_agent_per_user ON agents (user_id);
ALTER TABLE agents DROP CONSTRAINT IF EXISTS agents_prefix_format;
ALTER TABLE agents ADD CONSTRAINT agents_prefix_format
  CHECK (agent_prefix ~ '^agt_[a-z0-9]{1,32}$') NOT VALID;

-- WhatsApp numbers: secrets are stored encrypted (api_key, app_secret); routing by phone_number_id.
ALTER TABLE whatsapp_configuration ADD COLUMN IF NOT EXISTS app_secret text;
ALTER TABLE whatsapp_configuration ADD COLUMN IF NOT EXISTS verify_token text;
ALTER TABLE whatsapp_configuration ADD COLUMN IF NOT EXISTS messages_per_second integer NOT NULL DEFAULT 80
  CHECK (messages_per_second > 0);
ALTER TABLE whatsapp_configuration ADD COLUMN IF NOT EXISTS needs_attention text;
ALTER TABLE whatsapp_configuration ADD COLUMN IF NOT EXISTS last_webhook_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS whatsapp_configuration_phone_number_id_key
  ON whatsapp_configuration (phone_number_id) WHERE phone_number_id IS NOT NULL;

-- Raw webhook journal: every correctly signed POST body, kept before anything else happens.
CREATE TABLE IF NOT EXISTS webhook_journal (
  id bigserial PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now(),
  phone_number_id text,
  body bytea NOT NULL,
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processed', 'failed')),
  error text,
  attempts integer NOT NULL DEFAULT 0,
  processed_at timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_journal_unprocessed_idx
  ON webhook_journal (id) WHERE status <> 'processed';
