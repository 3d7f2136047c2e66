-- Outbound sends leave pgqueuer (docs/architecture.md, "Outbound sends: claimed from their own
-- table"): a worker claims due sends straight from outbound_sends, many per statement, replies
-- before bulk sends. `claimed_by` names the worker that holds a send's lease.

ALTER TABLE outbound_sends ADD COLUMN IF NOT EXISTS claimed_by text;
-- the claim reads due replies and due bulk sends each in slot order (equality on bulk, range on
-- due_at: it never walks the future slots of a broadcast)
CREATE INDEX IF NOT EXISTS outbound_sends_due_kind_idx ON outbound_sends (bulk, due_at, message_id)
  WHERE state = 'scheduled';
DROP INDEX IF EXISTS outbound_sends_due_idx;
-- sends the previous version had made pgqueuer jobs: due now, in the schedule, their jobs gone
UPDATE outbound_sends SET state = 'scheduled', due_at = coalesce(due_at, now()), job_id = NULL
WHERE state = 'queued';
DELETE FROM pgqueuer WHERE entrypoint = 'outbound.send' AND status = 'queued';
