-- Away messages and greetings (docs/whatsapp.md, "Away messages"; docs/schema.md): business
-- hours per workspace in its time zone, the texts, and when each conversation last got one.

-- The workspace's time zone (IANA name; NULL: UTC). Business hours use it; other workspace-level
-- features may too (issue 17's workspace settings can adopt this column).
ALTER TABLE agents ADD COLUMN IF NOT EXISTS time_zone text;

CREATE TABLE away_settings (
  agent_id bigint PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  away_enabled boolean NOT NULL DEFAULT false,
  -- {"1": [["09:00", "17:30"]], ..., "7": []}: ISO weekday (1 = Monday) -> open ranges, local time
  hours jsonb NOT NULL DEFAULT '{}',
  holidays date[] NOT NULL DEFAULT '{}',
  away_text text CHECK (length(away_text) <= 4096),
  away_every_hours integer NOT NULL DEFAULT 24 CHECK (away_every_hours BETWEEN 1 AND 720),
  greeting_enabled boolean NOT NULL DEFAULT false,
  greeting_text text CHECK (length(greeting_text) <= 4096),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- When a conversation last got each automatic message, and the ones waiting to be queued.
CREATE TABLE auto_replies_sent (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  customer_id integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('away', 'greeting')),
  sent_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, customer_id, kind)
);
CREATE TABLE auto_replies_due (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  customer_id integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('away', 'greeting')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Is the workspace open at `at` (its hours in its time zone, holidays closed)?
CREATE OR REPLACE FUNCTION wacrm_business_open(a_id bigint, at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
  WITH l AS (
    SELECT s.hours, s.holidays,
      at AT TIME ZONE coalesce(nullif(a.time_zone, ''), 'UTC') AS local
    FROM away_settings s JOIN agents a ON a.id = s.agent_id WHERE s.agent_id = a_id
  )
  SELECT coalesce((
    SELECT NOT (l.local::date = ANY (l.holidays)) AND EXISTS (
      SELECT FROM jsonb_array_elements(coalesce(l.hours -> extract(isodow FROM l.local)::int::text, '[]')) r
      WHERE jsonb_typeof(r) = 'array'
        AND l.local::time >= (r ->> 0)::time AND l.local::time < (r ->> 1)::time)
    FROM l), true)
$$;

-- After inbound messages: a greeting for a customer's first message, an away message outside
-- business hours (at most once per conversation per away_every_hours); messages older than an hour
-- (history, late re-deliveries) get neither. Only recorded here; the
-- periodic task of wacrm.away.tasks queues them through the normal outbound queue.
CREATE OR REPLACE FUNCTION wacrm_away_on_inbound() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  s away_settings;
BEGIN
  SELECT * INTO s FROM away_settings WHERE agent_id = a_id;
  IF NOT FOUND OR NOT (s.away_enabled OR s.greeting_enabled) THEN RETURN NULL; END IF;
  IF s.greeting_enabled AND coalesce(s.greeting_text, '') <> '' THEN
    EXECUTE format($q$
      WITH firsts AS (
        SELECT n.customer_id FROM new_rows n
        WHERE n.direction = 'inbound' AND n."timestamp" > now() - interval '1 hour'
        GROUP BY n.customer_id
        HAVING count(*) = (SELECT count(*) FROM %I m WHERE m.customer_id = n.customer_id
                           AND m.direction = 'inbound')
      ), marked AS (
        INSERT INTO auto_replies_sent (agent_id, customer_id, kind)
        SELECT $1, customer_id, 'greeting' FROM firsts
        ON CONFLICT DO NOTHING RETURNING customer_id
      )
      INSERT INTO auto_replies_due (agent_id, customer_id, kind) SELECT $1, customer_id, 'greeting' FROM marked
    $q$, TG_TABLE_NAME) USING a_id;
  END IF;
  IF s.away_enabled AND coalesce(s.away_text, '') <> '' AND NOT wacrm_business_open(a_id, now()) THEN
    WITH writers AS (
      SELECT DISTINCT n.customer_id FROM new_rows n
      WHERE n.direction = 'inbound' AND n."timestamp" > now() - interval '1 hour'
    ), marked AS (
      INSERT INTO auto_replies_sent AS r (agent_id, customer_id, kind)
      SELECT a_id, customer_id, 'away' FROM writers
      ON CONFLICT (agent_id, customer_id, kind) DO UPDATE SET sent_at = now()
        WHERE r.sent_at <= now() - make_interval(hours => s.away_every_hours)
      RETURNING customer_id
    )
    INSERT INTO auto_replies_due (agent_id, customer_id, kind) SELECT a_id, customer_id, 'away' FROM marked;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0093(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    CREATE TRIGGER away_on_inbound AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_away_on_inbound(%2$s);
  $ddl$, p || '_messages', a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (93, 'wacrm_agent_step_0093', 'away messages and greetings: inbound trigger')
ON CONFLICT (version) DO NOTHING;
