-- Outbound: sends are scheduled at enqueue (docs/performance.md, "Outbound: head-of-line").
-- A send whose number's schedule slot is more than a moment away waits here as 'scheduled' with
-- its slot (due_at) instead of as a pgqueuer job, and a worker turns the due ones into jobs in
-- slot order: one number's backlog no longer fills the workers while other numbers wait, and a
-- bulk send (priority 0) never gets ahead of an agent's reply (priority 10).

ALTER TABLE outbound_sends DROP CONSTRAINT IF EXISTS outbound_sends_state_check;
ALTER TABLE outbound_sends ADD CONSTRAINT outbound_sends_state_check
  CHECK (state IN ('scheduled', 'queued', 'sending', 'done'));
ALTER TABLE outbound_sends ADD COLUMN IF NOT EXISTS due_at timestamptz;
ALTER TABLE outbound_sends ADD COLUMN IF NOT EXISTS bulk boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS outbound_sends_due_idx ON outbound_sends (due_at) WHERE state = 'scheduled';
