-- The all-agents dashboard reads shared tables only (docs/schema.md, "Daily rollup";
-- docs/performance.md, "Many agents, second round"). One statement over every agent's own tables
-- took ~15 locks per agent and exhausted PostgreSQL's lock table at a few hundred agents.
-- The periodic job (wacrm.reports.tasks) counts, for each agent whose tables changed, the days from
-- its filled_until to today into report_recent_days, and its orders per creation day, status and
-- currency into report_order_days, one agent per transaction.

CREATE TABLE report_recent_days (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  day date NOT NULL,
  messages_in integer NOT NULL,
  messages_out integer NOT NULL,
  new_customers integer NOT NULL,
  response_seconds double precision[] NOT NULL,
  PRIMARY KEY (agent_id, day)
);

CREATE TABLE report_order_days (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  day date NOT NULL,
  status text NOT NULL,
  currency text NOT NULL,
  orders integer NOT NULL,
  total numeric NOT NULL,
  PRIMARY KEY (agent_id, day, status, currency)
);
CREATE INDEX report_order_days_day_idx ON report_order_days (day);
CREATE INDEX report_days_day_idx ON report_days (day);

-- recent_from: the first day of the agent's report_recent_days (its filled_until when counted);
-- counted_at: when; changes: the tuples written to its tables then (pg_stat counters), so an
-- agent whose tables did not change since is not counted again.
ALTER TABLE report_agents
  ADD COLUMN recent_from date,
  ADD COLUMN counted_at timestamptz,
  ADD COLUMN changes bigint;
