-- Message-text search: the words of each message stored once (docs/schema.md, "Conversations";
-- docs/performance.md, "Inbox search"). A search walks the newest messages one by one before it
-- asks the GIN index; with a stored vector that walk checks a value instead of parsing every row's
-- text again. Positions are stripped (the search never ranks nor matches phrases); a media
-- message's caption is searchable like its text; a message without words has no vector (NULL).
--
-- A plain column kept by a trigger, not a stored generated column: adding a generated column
-- rewrites the table even when it is empty (+8-10 ms per provisioned agent, measured) and is
-- recomputed on every UPDATE of the row (the messages table has a BEFORE UPDATE trigger), where
-- this trigger runs only when message or caption change. Existing rows (an adopted database, or
-- an agent provisioned before this step) are filled by one rewrite of the table (1,000,000 messages:
-- ~11 s, against ~21 s and a table three times its size for an UPDATE of every row); a table of
-- at most 1,000 messages by an UPDATE (a rewrite costs ~8 ms even for an empty table: new files
-- for the table and each of its indexes).

CREATE OR REPLACE FUNCTION wacrm_message_search_vector(message text, caption text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT nullif(strip(to_tsvector('simple'::regconfig, coalesce(message, '') || ' ' || coalesce(caption, ''))),
                ''::tsvector)
$$;

CREATE OR REPLACE FUNCTION wacrm_messages_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector := wacrm_message_search_vector(NEW.message, NEW.caption);
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0032(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m text := p || '_messages';
  n bigint;
BEGIN
  -- the expression GIN of step 2 goes first, so the rewrite below does not rebuild it
  EXECUTE format($ddl$
    DROP INDEX IF EXISTS %2$I;
    ALTER TABLE %1$I ADD COLUMN search_vector tsvector;
    CREATE TRIGGER %3$I BEFORE INSERT OR UPDATE OF message, caption ON %1$I
      FOR EACH ROW EXECUTE FUNCTION wacrm_messages_search_vector();
  $ddl$, m, m || '_text_search_idx', m || '_search_vector');
  EXECUTE format('SELECT count(*) FROM (SELECT FROM %I LIMIT 1001) s', m) INTO n;
  IF n > 1000 THEN  -- one rewrite of the table (new files), not an UPDATE of every row
    EXECUTE format($ddl$
      ALTER TABLE %1$I ALTER COLUMN search_vector TYPE tsvector
        USING wacrm_message_search_vector(message, caption);
    $ddl$, m);
  ELSIF n > 0 THEN
    EXECUTE format($ddl$
      UPDATE %1$I SET search_vector = wacrm_message_search_vector(message, caption)
       WHERE message <> '' OR caption IS NOT NULL;
    $ddl$, m);
  END IF;
  EXECUTE format('CREATE INDEX %I ON %I USING gin (search_vector)', m || '_text_search_idx', m);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (32, 'wacrm_agent_step_0032', 'conversations: stored search vector of message text and caption')
ON CONFLICT (version) DO NOTHING;
