-- Reports (the dashboard): date-range indexes so per-day counts read only the chosen period
-- (docs/schema.md, "Reports").

CREATE OR REPLACE FUNCTION wacrm_agent_step_0031(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m text := p || '_messages';
  c text := p || '_customers';
BEGIN
  EXECUTE format($ddl$
    CREATE INDEX %2$I ON %1$I ("timestamp") INCLUDE (direction, customer_id);
  $ddl$, m, m || '_time_idx');
  EXECUTE format($ddl$
    CREATE INDEX %2$I ON %1$I (created_at);
  $ddl$, c, c || '_created_idx');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (31, 'wacrm_agent_step_0031', 'reports: messages by time, customers by creation time')
ON CONFLICT (version) DO NOTHING;
