-- Conversations: index-friendly inbox search and filters (docs/schema.md, "Conversations").
-- pg_trgm is not available on the embedded server, so names, usernames and phones are searched by
-- prefix (text_pattern_ops btree indexes) and message text by full-text search (the GIN index of step 2).

CREATE OR REPLACE FUNCTION wacrm_agent_step_0025(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c text := p || '_customers';
  o text := p || '_orders';
BEGIN
  EXECUTE format($ddl$
    CREATE INDEX %2$I ON %1$I (lower(name) text_pattern_ops);
    CREATE INDEX %3$I ON %1$I (phone text_pattern_ops) WHERE phone IS NOT NULL;
    CREATE INDEX %4$I ON %1$I (lower(username) text_pattern_ops) WHERE username IS NOT NULL;
    CREATE INDEX %5$I ON %1$I (last_message_at DESC NULLS LAST, id DESC) WHERE unread_count > 0;
    CREATE INDEX %6$I ON %1$I
      USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(username, '')));
  $ddl$, c, c || '_name_prefix_idx', c || '_phone_prefix_idx', c || '_username_prefix_idx',
     c || '_unread_activity_idx', c || '_name_search_idx');
  EXECUTE format($ddl$
    CREATE INDEX %2$I ON %1$I (customer_id) WHERE status NOT IN ('delivered', 'cancelled');
  $ddl$, o, o || '_open_customer_idx');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (25, 'wacrm_agent_step_0025', 'conversations: prefix search, unread and open-order indexes')
ON CONFLICT (version) DO NOTHING;
