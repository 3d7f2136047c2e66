-- The numbers page reads the history imports of its page of numbers only (by phone number id).
CREATE INDEX IF NOT EXISTS history_chunks_phone_number_idx ON history_chunks (phone_number_id);
