-- Team inbox: a conversation reopens on every new inbound message, also one stamped in the same
-- second as the previous one (WhatsApp's timestamps are whole seconds, so last_inbound_at may not
-- change): the trigger of step 60 also fires when unread_count grows (docs/schema.md, "Team inbox").

CREATE OR REPLACE FUNCTION wacrm_agent_step_0061(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c text := p || '_customers';
BEGIN
  EXECUTE format($ddl$
    DROP TRIGGER IF EXISTS %2$I ON %1$I;
    CREATE TRIGGER %2$I BEFORE UPDATE OF last_inbound_at, unread_count ON %1$I FOR EACH ROW
      WHEN ((NEW.last_inbound_at IS DISTINCT FROM OLD.last_inbound_at
             OR NEW.unread_count > OLD.unread_count)
            AND (OLD.conversation_status IN ('resolved', 'snoozed')
                 OR (OLD.last_inbound_at IS NULL AND NEW.assignee_id IS NULL)))
      EXECUTE FUNCTION wacrm_conversation_on_inbound();
  $ddl$, c, c || '_on_inbound');
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (61, 'wacrm_agent_step_0061', 'team inbox: reopen on every inbound message (unread_count grows)')
ON CONFLICT (version) DO NOTHING;
