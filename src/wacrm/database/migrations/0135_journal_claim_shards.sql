-- Journal processors in parallel, each on its own share of the numbers (docs/performance.md,
-- "Webhooks spread over 1,000 agents, third round"). A claim by number (migration 0106) takes
-- the numbers of the oldest waiting rows: two processors scanning the same rows picked the same
-- numbers, and the second one's FOR UPDATE SKIP LOCKED then left it with nothing. Now a claim
-- may look only at the numbers of one shard (p_shard of p_shards, by a hash of the number): the
-- processors of a process each take a shard, work on different agents at the same time, and
-- each keeps the caches of its own agents' tables on its own connection. With p_shards = 1 the
-- claim is that of migration 0106. Any row is still claimed by one processor only (row locks and
-- the status recheck of FOR UPDATE), whatever the shards of the processors running.
CREATE OR REPLACE FUNCTION wacrm_journal_shard(p_number text, p_shards integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_shards <= 1 THEN 0
            ELSE mod(hashtext(coalesce(p_number, ''))::bigint + 2147483648, p_shards)::integer END;

CREATE OR REPLACE FUNCTION wacrm_claim_journal_by_number(
  p_first_id bigint, p_limit integer, p_numbers integer, p_scan integer,
  p_shard integer, p_shards integer
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
    CONTINUE WHEN p_shards > 1 AND wacrm_journal_shard(r.number, p_shards) <> p_shard;
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
