-- A revoked (deleted) message's downloaded media file is removed from the media store too:
-- wacrm_message_change queues the message in media_erasures in the transaction of the revoke,
-- and a periodic worker task (media.erase_revoked) deletes the files and the queue rows.

CREATE TABLE media_erasures (
  agent_id bigint NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  message_id integer NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, message_id)
);

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
    INSERT INTO media_erasures (agent_id, message_id) VALUES (a_id, m.id) ON CONFLICT DO NOTHING;
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
