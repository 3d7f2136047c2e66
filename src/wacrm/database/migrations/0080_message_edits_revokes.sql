-- Customers' edits and deletions (docs/whatsapp.md, "Edits and deletions"; docs/schema.md):
-- an edit keeps the previous text/caption as a version and marks the message edited; a revoke
-- empties the message's content (kept only in the raw webhook journal until its retention ends)
-- and marks it deleted. One function applies both, from the ingest and from the trigger that
-- applies a change which arrived before its original message.

-- Edits and revokes whose original message is not stored yet (applied by the messages' trigger).
CREATE TABLE inbound_early_changes (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  change_wamid text NOT NULL,           -- the edit's / revoke's own id: applied exactly once
  wamid text NOT NULL,                  -- the original message
  kind text NOT NULL CHECK (kind IN ('edit', 'revoke')),
  text text,
  caption text,
  changed_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, change_wamid)
);
CREATE INDEX inbound_early_changes_wamid ON inbound_early_changes (agent_id, wamid);

-- Apply an edit or a revoke of message `target` of the agent with prefix `p`; the changed
-- message (none when it was already changed by this change, is deleted, or is not there yet: then
-- the change waits in inbound_early_changes).
CREATE OR REPLACE FUNCTION wacrm_message_change(
  p text, a_id bigint, kind text, target text, change_wamid text,
  new_text text, new_caption text, at timestamptz)
RETURNS TABLE (id integer, customer_id integer)
LANGUAGE plpgsql AS $$
DECLARE
  m record;
  n integer;
BEGIN
  EXECUTE format('SELECT id, customer_id, message, caption, edited_at, deleted_at FROM %I
                  WHERE wamid = $1 FOR UPDATE', p || '_messages') INTO m USING target;
  IF m.id IS NULL THEN
    INSERT INTO inbound_early_changes (agent_id, change_wamid, wamid, kind, text, caption, changed_at)
    VALUES (a_id, change_wamid, target, kind, new_text, new_caption, at) ON CONFLICT DO NOTHING;
    RETURN;
  END IF;
  IF m.deleted_at IS NOT NULL THEN
    RETURN;
  END IF;
  IF kind = 'revoke' THEN
    EXECUTE format($q$UPDATE %I SET message = '', caption = NULL, raw = NULL, media_url = NULL,
                     media_id = NULL, media_filename = NULL, media_sha256 = NULL,
                     deleted_at = $2 WHERE id = $1$q$, p || '_messages') USING m.id, at;
    EXECUTE format('DELETE FROM %I WHERE message_id = $1', p || '_message_versions') USING m.id;
  ELSE
    EXECUTE format('INSERT INTO %I (message_id, change_wamid, text, caption, replaced_at)
                    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (change_wamid) DO NOTHING',
                   p || '_message_versions')
      USING m.id, change_wamid, m.message, m.caption, at;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
      RETURN;  -- this edit was applied before (a re-delivery)
    END IF;
    EXECUTE format('UPDATE %I SET message = coalesce($2, message),
                      caption = CASE WHEN caption IS NULL AND $3 IS NULL THEN NULL ELSE $3 END,
                      edited_at = $4
                    WHERE id = $1 AND (edited_at IS NULL OR edited_at <= $4)', p || '_messages')
      USING m.id, new_text, new_caption, at;
  END IF;
  id := m.id;
  customer_id := m.customer_id;
  RETURN NEXT;
END $$;

-- After messages are inserted: the edits and revokes that arrived before them, in their order.
CREATE OR REPLACE FUNCTION wacrm_apply_early_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  c record;
BEGIN
  IF NOT EXISTS (SELECT FROM inbound_early_changes WHERE agent_id = a_id) THEN
    RETURN NULL;
  END IF;
  FOR c IN SELECT e.* FROM inbound_early_changes e
           WHERE e.agent_id = a_id AND e.wamid IN (SELECT n.wamid FROM new_rows n)
           ORDER BY e.changed_at, e.received_at LOOP
    DELETE FROM inbound_early_changes WHERE agent_id = a_id AND change_wamid = c.change_wamid;
    PERFORM wacrm_message_change(left(TG_TABLE_NAME, -length('_messages')), a_id, c.kind,
                                 c.wamid, c.change_wamid, c.text, c.caption, c.changed_at);
  END LOOP;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0080(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    ALTER TABLE %1$I ADD COLUMN edited_at timestamptz, ADD COLUMN deleted_at timestamptz;
    CREATE TABLE %2$I (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      message_id integer NOT NULL REFERENCES %1$I (id) ON DELETE CASCADE,
      change_wamid text NOT NULL UNIQUE,
      text text,
      caption text,
      replaced_at timestamptz NOT NULL
    );
    CREATE INDEX %3$I ON %2$I (message_id);
    CREATE TRIGGER early_changes AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION wacrm_apply_early_changes(%4$s);
  $ddl$, p || '_messages', p || '_message_versions', p || '_message_versions_message_id', a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (80, 'wacrm_agent_step_0080', 'edits and revokes: message versions, edited/deleted marks')
ON CONFLICT (version) DO NOTHING;
