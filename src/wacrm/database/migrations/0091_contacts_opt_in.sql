-- Contacts (docs/schema.md, "Contacts: import and opt-in"): a workspace's default country for
-- phone numbers written without one, its opt-out / opt-in words per language, the customers'
-- marketing opt-in, and the web imports with their progress.

ALTER TABLE agents ADD COLUMN IF NOT EXISTS default_country text
  CHECK (default_country ~ '^[A-Z]{2}$');
-- {"en": ["STOP", "UNSUBSCRIBE"], "de": ["STOPP"]}; NULL: the defaults of wacrm_opt_words
ALTER TABLE agents ADD COLUMN IF NOT EXISTS opt_out_words jsonb;
ALTER TABLE agents ADD COLUMN IF NOT EXISTS opt_in_words jsonb;

CREATE OR REPLACE FUNCTION wacrm_default_opt_words(kind text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE kind WHEN 'out' THEN
    '{"en": ["STOP", "UNSUBSCRIBE", "STOP ALL", "OPT OUT"], "de": ["STOPP", "ABMELDEN"],
      "es": ["BAJA", "PARAR"], "fr": ["ARRET", "ARRÊT", "DESABONNER"], "pt": ["PARAR", "SAIR"],
      "it": ["CANCELLA", "BASTA"], "nl": ["AFMELDEN"]}'::jsonb
  ELSE
    '{"en": ["START", "SUBSCRIBE"], "de": ["ANMELDEN"], "es": ["ALTA"], "fr": ["ABONNER"],
      "pt": ["VOLTAR"], "it": ["ISCRIVI"], "nl": ["AANMELDEN"]}'::jsonb
  END
$$;

-- The words of one kind ('out' or 'in') of a workspace, every language together, upper case.
CREATE OR REPLACE FUNCTION wacrm_opt_words(a_id bigint, kind text) RETURNS text[]
LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(DISTINCT upper(btrim(w))), '{}')
  FROM agents a,
    jsonb_each(coalesce(CASE kind WHEN 'out' THEN a.opt_out_words ELSE a.opt_in_words END,
                        wacrm_default_opt_words(kind))) l(lang, words),
    jsonb_array_elements_text(CASE WHEN jsonb_typeof(l.words) = 'array' THEN l.words ELSE '[]' END) w
  WHERE a.id = a_id
$$;

-- A customer's whole message being one of the words (case, spaces and punctuation around it
-- ignored) opts them out of broadcasts, or back in. Replies are never affected.
CREATE OR REPLACE FUNCTION wacrm_opt_keywords() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  customers text := left(TG_TABLE_NAME, -length('_messages')) || '_customers';
BEGIN
  EXECUTE format($q$
    WITH said AS (
      SELECT DISTINCT ON (n.customer_id) n.customer_id,
        upper(btrim(regexp_replace(n.message, '[[:punct:][:space:]]+', ' ', 'g'))) AS word
      FROM new_rows n
      WHERE n.direction = 'inbound' AND length(n.message) <= 40 AND coalesce(n.wa_type, 'text') = 'text'
      ORDER BY n.customer_id, n."timestamp" DESC, n.id DESC
    ), matched AS (
      SELECT s.customer_id, s.word,
        CASE WHEN s.word = ANY (wacrm_opt_words($1, 'out')) THEN false
             WHEN s.word = ANY (wacrm_opt_words($1, 'in')) THEN true END AS opted_in
      FROM said s
    )
    UPDATE %I c SET opted_in = m.opted_in, opt_in_changed_at = now(),
      opt_in_source = 'keyword: ' || m.word, updated_at = now()
    FROM matched m
    WHERE c.id = m.customer_id AND m.opted_in IS NOT NULL
      AND c.opted_in IS DISTINCT FROM m.opted_in
  $q$, customers) USING a_id;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0091(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN opted_in boolean, ADD COLUMN opt_in_changed_at timestamptz,
      ADD COLUMN opt_in_source text;
    CREATE TRIGGER opt_keywords_insert AFTER INSERT ON %2$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_opt_keywords(%3$s);
  $ddl$, p || '_customers', p || '_messages', a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (91, 'wacrm_agent_step_0091', 'contacts: marketing opt-in and the opt-out words trigger')
ON CONFLICT (version) DO NOTHING;

-- A web import: the uploaded file until it is written, its preview, and its progress.
CREATE TABLE contact_imports (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  filename text NOT NULL,
  data bytea,
  country text,
  skip_invalid boolean NOT NULL DEFAULT false,
  state text NOT NULL DEFAULT 'previewed'
    CHECK (state IN ('previewed', 'queued', 'running', 'done', 'failed')),
  total_rows integer NOT NULL DEFAULT 0,
  valid_rows integer NOT NULL DEFAULT 0,
  error_rows integer NOT NULL DEFAULT 0,
  errors jsonb NOT NULL DEFAULT '[]',
  preview jsonb NOT NULL DEFAULT '[]',
  done_rows integer NOT NULL DEFAULT 0,
  created_count integer,
  merged_count integer,
  failure text,
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX contact_imports_agent_idx ON contact_imports (agent_id, id DESC);
