-- The dashboard's daily rollup (docs/schema.md, "Reports"; docs/performance.md, "Dashboard").
-- report_days holds one agent's additive figures of one settled UTC day (before today - 8):
-- messages in/out, new customers, and the response seconds of the runs answered that day.
-- Writes that touch a settled day afterwards (imported history, a webhook re-delivered late,
-- an erased customer) leave a mark in report_stale_days, from the per-agent triggers of step 40;
-- the report does not trust an agent's rollup from its earliest marked day on, and the periodic
-- job (wacrm.reports.tasks) deletes those rows and the marks and fills the days again.

CREATE TABLE report_days (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  day date NOT NULL,
  messages_in integer NOT NULL,
  messages_out integer NOT NULL,
  new_customers integer NOT NULL,
  response_seconds double precision[] NOT NULL,
  filled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, day)
);

-- How far an agent's rollup is filled: every day before filled_until (absent rows are days
-- without figures), and report_open_runs holds the runs left open at filled_until when open_runs.
CREATE TABLE report_agents (
  agent_id bigint PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  filled_until date NOT NULL,
  open_runs boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Customers whose last message before the agent's filled_until is inbound: the start of that
-- run (NULL when it was answered in 0 s by an outbound message with the same timestamp).
CREATE TABLE report_open_runs (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  customer_id integer NOT NULL,
  start timestamptz,
  PRIMARY KEY (agent_id, customer_id)
);

CREATE TABLE report_stale_days (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  day date NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, day)
);

-- The triggers fire only for rows older than 7 days (their WHEN clause: a webhook of the last 7
-- days costs nothing); the rollup covers days older than 8, so a transaction would have to stay
-- open for a day to write an unmarked row into a settled day. The shared advisory lock
-- (7401, hashint8(agent)) is held to the writer's commit: the job fills an agent's days under the
-- exclusive one, so it never reads a snapshot that misses a write whose mark it would then delete.
CREATE OR REPLACE FUNCTION wacrm_report_mark_message() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7401, hashint8(a_id));
  IF TG_OP <> 'INSERT' AND OLD."timestamp" < now() - interval '7 days' THEN
    INSERT INTO report_stale_days (agent_id, day)
      VALUES (a_id, (OLD."timestamp" AT TIME ZONE 'UTC')::date) ON CONFLICT DO NOTHING;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW."timestamp" < now() - interval '7 days' THEN
    INSERT INTO report_stale_days (agent_id, day)
      VALUES (a_id, (NEW."timestamp" AT TIME ZONE 'UTC')::date) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_report_mark_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7401, hashint8(a_id));
  IF TG_OP <> 'INSERT' AND OLD.created_at < now() - interval '7 days' THEN
    INSERT INTO report_stale_days (agent_id, day)
      VALUES (a_id, (OLD.created_at AT TIME ZONE 'UTC')::date) ON CONFLICT DO NOTHING;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.created_at < now() - interval '7 days' THEN
    INSERT INTO report_stale_days (agent_id, day)
      VALUES (a_id, (NEW.created_at AT TIME ZONE 'UTC')::date) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0040(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m text := p || '_messages';
  c text := p || '_customers';
BEGIN
  EXECUTE format($ddl$
    CREATE TRIGGER report_mark_insert AFTER INSERT ON %1$I FOR EACH ROW
      WHEN (NEW."timestamp" < now() - interval '7 days')
      EXECUTE FUNCTION wacrm_report_mark_message(%2$s);
    CREATE TRIGGER report_mark_delete AFTER DELETE ON %1$I FOR EACH ROW
      WHEN (OLD."timestamp" < now() - interval '7 days')
      EXECUTE FUNCTION wacrm_report_mark_message(%2$s);
    CREATE TRIGGER report_mark_update AFTER UPDATE OF "timestamp", direction, customer_id ON %1$I
      FOR EACH ROW
      WHEN ((OLD."timestamp" < now() - interval '7 days' OR NEW."timestamp" < now() - interval '7 days')
        AND (OLD."timestamp", OLD.direction, OLD.customer_id)
          IS DISTINCT FROM (NEW."timestamp", NEW.direction, NEW.customer_id))
      EXECUTE FUNCTION wacrm_report_mark_message(%2$s);
  $ddl$, m, a_id);
  EXECUTE format($ddl$
    CREATE TRIGGER report_mark_insert AFTER INSERT ON %1$I FOR EACH ROW
      WHEN (NEW.created_at < now() - interval '7 days')
      EXECUTE FUNCTION wacrm_report_mark_customer(%2$s);
    CREATE TRIGGER report_mark_delete AFTER DELETE ON %1$I FOR EACH ROW
      WHEN (OLD.created_at < now() - interval '7 days')
      EXECUTE FUNCTION wacrm_report_mark_customer(%2$s);
    CREATE TRIGGER report_mark_update AFTER UPDATE OF created_at ON %1$I FOR EACH ROW
      WHEN ((OLD.created_at < now() - interval '7 days' OR NEW.created_at < now() - interval '7 days')
        AND OLD.created_at IS DISTINCT FROM NEW.created_at)
      EXECUTE FUNCTION wacrm_report_mark_customer(%2$s);
  $ddl$, c, a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (40, 'wacrm_agent_step_0040', 'reports: mark settled rollup days written late')
ON CONFLICT (version) DO NOTHING;
