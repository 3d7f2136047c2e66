-- The journal processor claims webhooks grouped by number (docs/performance.md, "Webhooks spread
-- over 1,000 agents"). Each agent (one number each) a batch touches costs the processor its own
-- statements, planned for that agent's tables, and its tables' triggers (~10 ms per agent on this
-- machine); a batch of the 200 oldest webhooks spread over 1,000 agents touched ~180 agents for
-- 200 webhooks, and held ~20 locks per agent until its commit (the lock table is shared by every
-- session: 64 x connections). Now a claim takes the waiting rows of at most `p_numbers` numbers:
-- those of the oldest waiting rows, then every waiting row of those numbers among the next
-- `p_scan` waiting rows, oldest first, up to `p_limit`. Under a backlog each agent's webhooks are
-- processed together; whatever the backlog, a transaction touches at most `p_numbers` agents.
-- Rows another processor holds are skipped when they are locked (as before); a row processed
-- meanwhile is skipped by the status recheck of FOR UPDATE.
CREATE OR REPLACE FUNCTION wacrm_claim_journal_by_number(
  p_first_id bigint, p_limit integer, p_numbers integer, p_scan integer
)
RETURNS TABLE (id bigint, body bytea, phone_number_id text)
LANGUAGE plpgsql VOLATILE
SET enable_sort = off
SET enable_bitmapscan = off
AS $$
DECLARE
  numbers text[] := '{}';
  ids bigint[] := '{}';
  r record;
BEGIN
  FOR r IN SELECT j.id, coalesce(j.phone_number_id, '') AS number FROM webhook_journal j
           WHERE j.status = 'received' AND j.id >= p_first_id
           ORDER BY j.id LIMIT p_scan LOOP
    IF NOT r.number = ANY (numbers) THEN
      CONTINUE WHEN cardinality(numbers) >= p_numbers;
      numbers := numbers || r.number;
    END IF;
    ids := ids || r.id;
    EXIT WHEN cardinality(ids) >= p_limit;
  END LOOP;
  RETURN QUERY
    SELECT j.id, j.body, j.phone_number_id FROM webhook_journal j
    WHERE j.id = ANY (ids) AND j.status = 'received'
    ORDER BY j.id
    FOR UPDATE SKIP LOCKED;
END $$;
