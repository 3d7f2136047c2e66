-- Triggers that usually have nothing to do are not called unless they have (docs/performance.md,
-- "Webhooks spread over 1,000 agents: where an agent's cost goes"). PL/pgSQL compiles a trigger
-- function once per trigger, i.e. once per agent's table, and plans its statements again for each:
-- a connection that writes webhooks for many agents compiled ~10 functions per agent (~0.8 MiB of
-- its ~1.07 MiB per agent, and ~30% of a first batch's CPU), most of them only to find that the
-- agent has no outgoing webhook for the event, no away message or greeting, and no early edit
-- waiting. Their statement triggers now have a WHEN that asks a shared function (compiled once
-- per connection for every agent); the trigger functions are unchanged and still decide the rest.
CREATE OR REPLACE FUNCTION wacrm_trigger_due(a_id bigint, what text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
  CASE what
    WHEN 'away' THEN
      RETURN EXISTS (SELECT FROM away_settings s
                     WHERE s.agent_id = a_id AND (s.away_enabled OR s.greeting_enabled));
    WHEN 'early_changes' THEN
      RETURN EXISTS (SELECT FROM inbound_early_changes e WHERE e.agent_id = a_id);
    ELSE  -- an outgoing webhook event
      RETURN EXISTS (SELECT FROM hook_endpoints h
                     WHERE h.agent_id = a_id AND h.enabled AND what = ANY (h.events));
  END CASE;
END $$;

CREATE OR REPLACE FUNCTION wacrm_agent_step_0136(p text, a_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($ddl$
    CREATE OR REPLACE TRIGGER hook_messages_insert AFTER INSERT ON %1$I
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
      WHEN (wacrm_trigger_due(%3$s, 'message.received'))
      EXECUTE FUNCTION wacrm_hook_messages(%3$s);
    CREATE OR REPLACE TRIGGER hook_messages_update AFTER UPDATE ON %1$I
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
      WHEN (wacrm_trigger_due(%3$s, 'message.status'))
      EXECUTE FUNCTION wacrm_hook_messages(%3$s);
    CREATE OR REPLACE TRIGGER hook_customers_insert AFTER INSERT ON %2$I
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
      WHEN (wacrm_trigger_due(%3$s, 'customer.created'))
      EXECUTE FUNCTION wacrm_hook_customers(%3$s);
    CREATE OR REPLACE TRIGGER away_on_inbound AFTER INSERT ON %1$I
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
      WHEN (wacrm_trigger_due(%3$s, 'away'))
      EXECUTE FUNCTION wacrm_away_on_inbound(%3$s);
    CREATE OR REPLACE TRIGGER early_changes AFTER INSERT ON %1$I
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
      WHEN (wacrm_trigger_due(%3$s, 'early_changes'))
      EXECUTE FUNCTION wacrm_apply_early_changes(%3$s);
  $ddl$, p || '_messages', p || '_customers', a_id);
END $$;

INSERT INTO agent_schema_steps (version, function_name, description) VALUES
  (136, 'wacrm_agent_step_0136', 'hooks, away messages, early changes: triggers called when due')
ON CONFLICT (version) DO NOTHING;
