-- Greetings and away messages answer what a customer writes now, not the chat history a number
-- in coexistence imports (origin 'history', migration 0081): a history chunk holding the last
-- hour's messages sent every customer in it a greeting and, outside business hours, an away
-- message. The same trigger function as 0093, with the imported history left out.
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
          AND n.origin IS DISTINCT FROM 'history'
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
          AND n.origin IS DISTINCT FROM 'history'
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
