-- Opt-out and opt-in words count when a customer writes them now, not in the chat history a
-- number in coexistence imports (origin 'history', migration 0081): an old 'STOP' (or 'START')
-- in a history chunk changed the customer's broadcast opt-in today, over later choices. The
-- same trigger function as 0095, with the imported history left out.
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
    WHERE n.direction = 'inbound' AND n.origin IS DISTINCT FROM 'history' AND length(n.message) <= 40
      AND upper(btrim(regexp_replace(n.message, '[[:punct:][:space:]]+', ' ', 'g'))) = ANY (outs || ins)
  ) THEN
    RETURN NULL;
  END IF;
  EXECUTE format($q$
    WITH said AS (
      SELECT DISTINCT ON (n.customer_id) n.customer_id,
        upper(btrim(regexp_replace(n.message, '[[:punct:][:space:]]+', ' ', 'g'))) AS word
      FROM new_rows n
      WHERE n.direction = 'inbound' AND n.origin IS DISTINCT FROM 'history' AND length(n.message) <= 40 AND coalesce(n.wa_type, 'text') = 'text'
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
