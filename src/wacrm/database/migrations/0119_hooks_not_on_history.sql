-- The chat history a number in coexistence imports (origin 'history', migration 0081) is not a
-- customer writing now: it no longer announces `message.received` to outgoing webhooks (an import
-- of years of chats sent every receiver one event per old message). The same trigger function as
-- 0090 with the imported history left out; live messages, echoes and calls are unchanged.
CREATE OR REPLACE FUNCTION wacrm_hook_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_id bigint := TG_ARGV[0]::bigint;
  customers text := left(TG_TABLE_NAME, -length('_messages')) || '_customers';
  rows jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT wacrm_hook_listens(a_id, 'message.received') THEN RETURN NULL; END IF;
    EXECUTE format($q$
      SELECT jsonb_agg(jsonb_build_object(
        'message', jsonb_build_object('id', n.id, 'wamid', n.wamid, 'type', n.wa_type,
          'text', n.message, 'caption', n.caption, 'media_type', n.media_type,
          'timestamp', n."timestamp", 'reply_to_wamid', n.context_wamid),
        'customer', jsonb_build_object('id', c.id, 'name', c.name, 'phone', c.phone,
          'bsuid', c.bsuid, 'username', c.username)) ORDER BY n.id)
      FROM new_rows n JOIN %I c ON c.id = n.customer_id WHERE n.direction = 'inbound' AND n.origin IS DISTINCT FROM 'history'
    $q$, customers) INTO rows;
    IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'message.received', rows); END IF;
  ELSE
    IF NOT wacrm_hook_listens(a_id, 'message.status') THEN RETURN NULL; END IF;
    SELECT jsonb_agg(jsonb_build_object(
      'message_id', n.id, 'customer_id', n.customer_id, 'wamid', n.wamid, 'status', n.status,
      'previous_status', o.status, 'status_at', n.status_at, 'error_code', n.error_code,
      'error_title', n.error_title, 'error_details', n.error_details) ORDER BY n.id)
    INTO rows
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.direction = 'outbound' AND n.status IS DISTINCT FROM o.status
      AND n.status IN ('sent', 'delivered', 'read', 'played', 'failed');
    IF rows IS NOT NULL THEN PERFORM wacrm_hook_emit(a_id, 'message.status', rows); END IF;
  END IF;
  RETURN NULL;
END $$;
