-- Inbound WhatsApp: status ordering, the admin view of failed webhooks, statuses that arrive
-- before the send that produced their wamid is recorded. See docs/schema.md ("Inbound").

-- The order of delivery statuses: a status never moves a message backwards.
CREATE OR REPLACE FUNCTION wacrm_status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE s
    WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 3
    WHEN 'played' THEN 4 ELSE 0 END
$$;

-- Admins list failed webhooks newest first.
CREATE INDEX IF NOT EXISTS webhook_journal_status_idx ON webhook_journal (status, id DESC);

-- Statuses for a wamid not (yet) in the agent's messages table: kept here and applied by a
-- trigger when an outbound row gets that wamid.
CREATE TABLE IF NOT EXISTS inbound_early_statuses (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  wamid text NOT NULL,
  status text NOT NULL,
  status_at timestamptz NOT NULL,
  error_code integer,
  error_title text,
  error_details text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, wamid, status)
);

CREATE OR REPLACE FUNCTION wacrm_apply_early_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  e record;
BEGIN
  IF NEW.wamid IS NULL OR NEW.direction <> 'outbound'
     OR (TG_OP = 'UPDATE' AND OLD.wamid IS NOT DISTINCT FROM NEW.wamid) THEN
    RETURN NEW;
  END IF;
  FOR e IN DELETE FROM inbound_early_statuses
           WHERE agent_id = TG_ARGV[0]::bigint AND wamid = NEW.wamid
           RETURNING * LOOP
    IF wacrm_status_rank(e.status) > wacrm_status_rank(NEW.status) THEN
      NEW.status := e.status;
      NEW.status_at := e.status_at;
    END IF;
    IF e.status = 'failed' THEN
      NEW.error_code := e.error_code;
      NEW.error_title := e.error_title;
      NEW.error_details := e.error_details;
    END IF;
  END LOOP;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0010(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format(
    'CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF wamid ON %I FOR EACH ROW '
    'WHEN (NEW.wamid IS NOT NULL AND NEW.direction = ''outbound'') '
    'EXECUTE FUNCTION wacrm_apply_early_status(%L)',
    p || '_messages_early_status', p || '_messages', a_id::text);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (10, 'wacrm_agent_step_0010', 'apply delivery statuses that arrived before the send was recorded')
ON CONFLICT (version) DO NOTHING;
