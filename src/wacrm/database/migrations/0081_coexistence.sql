-- Coexistence with the WhatsApp Business app (docs/whatsapp.md, "Coexistence"; docs/schema.md):
-- messages the owner sent from the phone app and the imported chat history, marked by origin;
-- names from the owner's address book kept apart; the history import's progress per number.

-- When the number was first seen in coexistence (a smb_message_echoes / history /
-- smb_app_state_sync webhook arrived for it); NULL: Cloud API only.
ALTER TABLE whatsapp_configuration ADD COLUMN IF NOT EXISTS coexistence_since timestamptz;

-- One row per history chunk Meta sent (phase 0-2, chunk_order), or the declined share (phase -1).
CREATE TABLE history_chunks (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  phone_number_id text NOT NULL,
  phase integer NOT NULL,
  chunk_order integer NOT NULL,
  progress integer,                     -- 0-100, Meta's estimate of the whole import
  messages integer NOT NULL DEFAULT 0,  -- messages the chunk held
  error_code integer,                   -- 2593109: the owner declined to share the history
  error_title text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, phone_number_id, phase, chunk_order)
);

CREATE OR REPLACE FUNCTION wacrm_agent_step_0081(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN origin text;
    ALTER TABLE %2$I ADD COLUMN address_book_name text, ADD COLUMN address_book_at timestamptz;
  $ddl$, p || '_messages', p || '_customers');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (81, 'wacrm_agent_step_0081', 'coexistence: message origin, address-book names')
ON CONFLICT (version) DO NOTHING;
