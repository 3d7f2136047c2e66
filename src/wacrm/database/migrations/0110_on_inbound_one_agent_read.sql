-- The team inbox's inbound trigger (0060) fires for every customer's first inbound message. It
-- read the agent by prefix, then called wacrm_next_assignee, which read the agent again only to
-- find auto-assignment off (the usual case): two queries and a function call per new customer,
-- ~18% of the journal processor's message statement when a batch is mostly new customers
-- (docs/performance.md, "Ingest, issue 15"). The agent's id and its auto_assign flag are now read
-- in one query, and the round robin is asked only when auto-assignment is on. Same behaviour.
CREATE OR REPLACE FUNCTION wacrm_conversation_on_inbound() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  p text := left(TG_TABLE_NAME, length(TG_TABLE_NAME) - length('_customers'));
  a_id bigint;
  assigns boolean;
  pick uuid;
BEGIN
  SELECT id, coalesce(auto_assign, false) INTO a_id, assigns FROM agents WHERE agent_prefix = p;
  IF OLD.conversation_status IN ('resolved', 'snoozed') THEN
    EXECUTE format('INSERT INTO %I (customer_id, kind, from_value, to_value) VALUES ($1, $2, $3, $4)',
                   p || '_conversation_events')
      USING NEW.id, 'status', OLD.conversation_status, 'open';
    NEW.conversation_status := 'open';
    NEW.snoozed_until := NULL;
    DELETE FROM conversation_snoozes WHERE agent_id = a_id AND customer_id = NEW.id;
  END IF;
  IF NEW.assignee_id IS NULL AND a_id IS NOT NULL AND assigns THEN
    pick := wacrm_next_assignee(a_id);
    IF pick IS NOT NULL THEN
      NEW.assignee_id := pick;
      EXECUTE format('INSERT INTO %I (customer_id, kind, from_value, to_value) VALUES ($1, $2, $3, $4)',
                     p || '_conversation_events')
        USING NEW.id, 'assignee', NULL, pick::text;
    END IF;
  END IF;
  RETURN NEW;
END $$;
