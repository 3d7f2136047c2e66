-- Ingest: the journal processor claims waiting webhooks through one function (docs/schema.md,
-- "Webhook journal"), so that its claim is always an ordered walk of the status index from a
-- given id, whatever the statistics say. With the plain SELECT the planner, expecting a few
-- dozen waiting rows, chose a bitmap scan and a sort: under a backlog of 25,000 rows that reads
-- (and sorts) every waiting row's body for each 200-row claim.

CREATE OR REPLACE FUNCTION wacrm_claim_journal(p_first_id bigint, p_limit integer)
RETURNS TABLE (id bigint, body bytea)
LANGUAGE plpgsql VOLATILE
SET enable_sort = off
SET enable_bitmapscan = off
AS $$
BEGIN
  RETURN QUERY
    SELECT j.id, j.body FROM webhook_journal j
    WHERE j.status = 'received' AND j.id >= p_first_id
    ORDER BY j.id LIMIT p_limit
    FOR UPDATE SKIP LOCKED;
END $$;
