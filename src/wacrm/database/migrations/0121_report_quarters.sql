-- The all-agents dashboard in any viewer's time zone (docs/schema.md, "Quarter-hour rollup";
-- docs/performance.md, "All agents in the viewer's time zone"). Every time zone in use today is
-- a whole number of quarter hours from UTC (Asia/Kolkata +05:30, Asia/Kathmandu +05:45), so a day
-- of any zone, DST days included, is a run of whole quarter hours of UTC: the rollup keeps them.
--
-- report_quarters: each agent's figures per UTC quarter hour (only quarters with any), written
-- with its report_days (settled days, wacrm.reports.rollup) and by its recount (the days since,
-- wacrm.reports.recent); report_order_quarters: its orders per quarter of their creation.
-- report_all_quarters / report_all_order_quarters: their sums over every agent, so the page reads
-- at most 96 rows a day whatever the number of agents. Rebuilt per UTC day after each rollup
-- cycle for the days whose agents' rows changed (report_quarters_dirty, kept by triggers).
-- report_recent_days and report_order_days (UTC days) stay: the agents page's totals read them.

CREATE TABLE report_quarters (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  bucket timestamptz NOT NULL,            -- the quarter hour's start (UTC :00, :15, :30, :45)
  messages_in integer NOT NULL,
  messages_out integer NOT NULL,
  new_customers integer NOT NULL,
  response_seconds double precision[] NOT NULL,  -- the runs answered in this quarter
  PRIMARY KEY (agent_id, bucket)
);

CREATE TABLE report_order_quarters (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  bucket timestamptz NOT NULL,
  status text NOT NULL,
  currency text NOT NULL,
  orders integer NOT NULL,
  total numeric NOT NULL,
  PRIMARY KEY (agent_id, bucket, status, currency)
);
CREATE INDEX report_quarters_bucket_idx ON report_quarters (bucket);
CREATE INDEX report_order_quarters_bucket_idx ON report_order_quarters (bucket);

CREATE TABLE report_all_quarters (
  bucket timestamptz PRIMARY KEY,
  messages_in bigint NOT NULL,
  messages_out bigint NOT NULL,
  new_customers bigint NOT NULL,
  response_seconds double precision[] NOT NULL,
  responses integer NOT NULL,              -- cardinality(response_seconds)
  response_bins smallint[] NOT NULL,       -- their histogram: wacrm_response_bin of each
  response_counts integer[] NOT NULL       -- and how many fall in each bin
);

-- The response histograms of whole UTC days (a long period's median reads these, not every reply).
CREATE TABLE report_all_days (
  day date PRIMARY KEY,
  responses bigint NOT NULL,
  response_bins smallint[] NOT NULL,
  response_counts integer[] NOT NULL
);

-- A reply's histogram bin: 50 bins per unit of ln(1 + seconds), each 2% wide (1 s to years).
CREATE FUNCTION wacrm_response_bin(seconds double precision) RETURNS smallint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN least(floor(ln(1 + greatest(seconds, 0)) * 50), 32767)::smallint;

CREATE TABLE report_all_order_quarters (
  bucket timestamptz NOT NULL,
  status text NOT NULL,
  currency text NOT NULL,
  orders bigint NOT NULL,
  total numeric NOT NULL,
  PRIMARY KEY (bucket, status, currency)
);

-- UTC days whose sums over every agent must be rebuilt.
CREATE TABLE report_quarters_dirty (day date PRIMARY KEY);

CREATE FUNCTION wacrm_report_quarters_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO report_quarters_dirty (day)
  SELECT DISTINCT (bucket AT TIME ZONE 'UTC')::date FROM changed ORDER BY 1
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER report_quarters_inserted AFTER INSERT ON report_quarters
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION wacrm_report_quarters_dirty();
CREATE TRIGGER report_quarters_deleted AFTER DELETE ON report_quarters
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION wacrm_report_quarters_dirty();
CREATE TRIGGER report_order_quarters_inserted AFTER INSERT ON report_order_quarters
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION wacrm_report_quarters_dirty();
CREATE TRIGGER report_order_quarters_deleted AFTER DELETE ON report_order_quarters
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION wacrm_report_quarters_dirty();

-- Concatenates arrays (the sums' response seconds).
CREATE AGGREGATE wacrm_array_cat_agg(anycompatiblearray) (
  SFUNC = array_cat, STYPE = anycompatiblearray, INITCOND = '{}'
);

DELETE FROM report_recent_days;
DELETE FROM report_order_days;

-- Every agent's rollup is filled again from its first day, now with its quarter hours.
DELETE FROM report_days;
DELETE FROM report_open_runs;
DELETE FROM report_agents;
