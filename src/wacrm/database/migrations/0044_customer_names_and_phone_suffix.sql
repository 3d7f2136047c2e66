-- Issue 13, items 9 and 10 (docs/schema.md, "Customer names and phone search").
-- Phone search by the last digits or a national format: an index on the reversed number, so that
-- "ends with 12345678" is a prefix read (reverse(phone) LIKE '87654321%').
-- The agent's own name for a customer: `name` stays what the CRM shows; `name_by_agent` says the
-- agent chose it (inbound messages then leave it alone), `profile_name` is the WhatsApp profile
-- name as last received, kept beside it. Both columns are nullable without a default (no rewrite,
-- no catalogue-wide work per agent).

CREATE OR REPLACE FUNCTION wacrm_agent_step_0044(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c text := p || '_customers';
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN IF NOT EXISTS profile_name text,
                     ADD COLUMN IF NOT EXISTS name_by_agent boolean;
    CREATE INDEX IF NOT EXISTS %2$I ON %1$I (reverse(phone) text_pattern_ops)
      WHERE phone IS NOT NULL;
  $ddl$, c, c || '_phone_suffix_idx');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (44, 'wacrm_agent_step_0044', 'customers: profile_name, name_by_agent, phone suffix index')
ON CONFLICT (version) DO NOTHING;
