-- The inbox search reads one stored, indexed document per customer (docs/schema.md,
-- "Conversations"; docs/performance.md, "Search document"): {p}_customers.search_doc, the words
-- of the name and username and of the customer's recent messages (text and captions, both
-- directions), stripped (no positions). A search for words is one GIN lookup over the customers
-- (50,000 documents) instead of the messages (1,000,000 vectors). Phone numbers keep their prefix
-- and suffix indexes (step 44, wacrm.customers.phones). The messages' GIN of step 32 is dropped:
-- nothing reads it any more, and every message insert paid for it (the messages keep their
-- stored vector, which the trigger below reads).
--
-- Kept by triggers: a statement trigger on message inserts adds a statement's new words per
-- customer in one UPDATE (none when every word is in the document already); past 2,000 distinct
-- words the document starts over with the name and the new words ("recent text"). Row triggers
-- add the words of an edited message (its text or caption changed; statuses do not fire it) and
-- of a new name or username. Replaced words stay until the document starts over: a customer is
-- still found by a former name or an edited message's first words; a deleted message's words too.

CREATE OR REPLACE FUNCTION wacrm_customer_name_words(name text, username text)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT strip(to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(username, '')))
$$;

-- Fired once per INSERT statement on {p}_messages; TG_ARGV[0] is the agent's customers table.
CREATE OR REPLACE FUNCTION wacrm_customer_words_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($sql$
    UPDATE %1$I c SET search_doc = CASE
        WHEN length(coalesce(c.search_doc, ''::tsvector)) + length(x.words) > 2000
          THEN wacrm_customer_name_words(c.name, c.username) || x.words
        ELSE coalesce(c.search_doc, ''::tsvector) || x.words END
    FROM (SELECT a.customer_id, array_to_tsvector(array_agg(DISTINCT w.word)) AS words
          FROM added a CROSS JOIN LATERAL unnest(tsvector_to_array(a.search_vector)) AS w(word)
          WHERE a.search_vector IS NOT NULL AND a.customer_id IS NOT NULL
          GROUP BY a.customer_id) x
    WHERE c.id = x.customer_id
      AND NOT (tsvector_to_array(x.words) <@ tsvector_to_array(coalesce(c.search_doc, ''::tsvector)))
  $sql$, TG_ARGV[0]);
  RETURN NULL;
END $$;

-- Fired for each message whose text or caption changed; TG_ARGV[0] is the customers table.
CREATE OR REPLACE FUNCTION wacrm_customer_words_edited() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($sql$
    UPDATE %1$I c SET search_doc = coalesce(c.search_doc, ''::tsvector) || $1
    WHERE c.id = $2
      AND NOT (tsvector_to_array($1) <@ tsvector_to_array(coalesce(c.search_doc, ''::tsvector)))
  $sql$, TG_ARGV[0]) USING NEW.search_vector, NEW.customer_id;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_customer_name_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_doc := wacrm_customer_name_words(NEW.name, NEW.username)
                    || coalesce(NEW.search_doc, ''::tsvector);
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0056(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c text := p || '_customers';
  m text := p || '_messages';
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN search_doc tsvector;
    UPDATE %1$I c SET search_doc = wacrm_customer_name_words(c.name, c.username)
                                   || coalesce(x.words, ''::tsvector)
    FROM %1$I c2 LEFT JOIN (
      SELECT t.customer_id, array_to_tsvector(array_agg(DISTINCT w.word)) AS words
      FROM %2$I t CROSS JOIN LATERAL unnest(tsvector_to_array(t.search_vector)) AS w(word)
      WHERE t.search_vector IS NOT NULL GROUP BY t.customer_id) x ON x.customer_id = c2.id
    WHERE c.id = c2.id;
    DROP INDEX IF EXISTS %3$I;
    DROP INDEX IF EXISTS %6$I;
    CREATE INDEX %4$I ON %1$I USING gin (search_doc);
    CREATE TRIGGER customer_search_name BEFORE INSERT ON %1$I
      FOR EACH ROW EXECUTE FUNCTION wacrm_customer_name_added();
    CREATE TRIGGER customer_search_rename BEFORE UPDATE OF name, username ON %1$I
      FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.username IS DISTINCT FROM NEW.username)
      EXECUTE FUNCTION wacrm_customer_name_added();
    CREATE TRIGGER customer_search_words AFTER INSERT ON %2$I REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_customer_words_added(%5$L);
    CREATE TRIGGER customer_search_edit AFTER UPDATE OF message, caption ON %2$I FOR EACH ROW
      WHEN (NEW.search_vector IS NOT NULL AND NEW.search_vector IS DISTINCT FROM OLD.search_vector)
      EXECUTE FUNCTION wacrm_customer_words_edited(%5$L);
  $ddl$, c, m, c || '_name_search_idx', c || '_search_idx', c, m || '_text_search_idx');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (56, 'wacrm_agent_step_0056', 'conversations: stored search document per customer')
ON CONFLICT (version) DO NOTHING;
