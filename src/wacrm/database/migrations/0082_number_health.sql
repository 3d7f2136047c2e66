-- The business account's health (docs/whatsapp.md, "Account health"; docs/schema.md): what Meta's
-- account_update, phone_number_quality_update and business_capability_update webhooks said,
-- on the number and as a history.

ALTER TABLE whatsapp_configuration
  ADD COLUMN IF NOT EXISTS messaging_limit_tier text,   -- e.g. TIER_1K, TIER_UNLIMITED
  ADD COLUMN IF NOT EXISTS quality_event text,          -- FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE...
  ADD COLUMN IF NOT EXISTS account_status text,         -- the last account_update event
  ADD COLUMN IF NOT EXISTS cannot_send_reason text,     -- set while the number cannot send
  ADD COLUMN IF NOT EXISTS health_at timestamptz;

CREATE TABLE number_health_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  config_id bigint NOT NULL REFERENCES whatsapp_configuration(id) ON DELETE CASCADE,
  field text NOT NULL,
  event text,
  summary text NOT NULL,
  raw jsonb,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX number_health_events_config ON number_health_events (config_id, received_at DESC);
