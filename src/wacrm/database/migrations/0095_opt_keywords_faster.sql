-- The opt-out words trigger (0091) read the workspace's words once per message of a statement
-- and ran dynamic SQL for every statement: a 50-message insert took 2.5 times as long with it
-- (docs/performance.md, "Triggers of issue 20"). Now the words are read once per statement and a
-- static query over the new rows checks for a match first; the UPDATE runs only when one matched.
CREATE OR REPLACE FUNCTION wacrm_opt_keywords() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  customers text := left(TG_TABLE_NAME, -length('_messages')) || '_customers';
  outs text[] := wacrm_opt_words(a_id, 'out');
  ins text[] := wacrm_opt_words(a_id, 'in');
BEGIN
  IF NOT EXISTS (
    SELECT FROM new_rows n
    WHERE n.direction = 'inbound' AND length(n.message) <= 40
      AND upper(btrim(regexp_replace(n.message, '[[:punct:][:space:]]+', ' ', 'g'))) = ANY (outs || ins)
  ) THEN
    RETURN NULL;
  END IF;
  EXECUTE format($q$
    WITH said AS (
      SELECT DISTINCT ON (n.customer_id) n.customer_id,
        upper(btrim(regexp_replace(n.message, '[[:punct:][:space:]]+', ' ', 'g'))) AS word
      FROM new_rows n
      WHERE n.direction = 'inbound' AND length(n.message) <= 40 AND coalesce(n.wa_type, 'text') = 'text'
      ORDER BY n.customer_id, n."timestamp" DESC, n.id DESC
    ), matched AS (
      SELECT s.customer_id, s.word,
        CASE WHEN s.word = ANY ($1) THEN false WHEN s.word = ANY ($2) THEN true END AS opted_in
      FROM said s
    )
    UPDATE %I c SET opted_in = m.opted_in, opt_in_changed_at = now(),
      opt_in_source = 'keyword: ' || m.word, updated_at = now()
    FROM matched m
    WHERE c.id = m.customer_id AND m.opted_in IS NOT NULL
      AND c.opted_in IS DISTINCT FROM m.opted_in
  $q$, customers) USING outs, ins;
  RETURN NULL;
END $$;
