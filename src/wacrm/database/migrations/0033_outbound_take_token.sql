-- Outbound: one function takes a token from a shared rate bucket (docs/schema.md, "Outbound"), so
-- a send's claim, its reads and its limiter slots are one statement (one round trip) for the worker.
-- Same bucket rule as before: refill at p_rate per second up to p_burst, take one; a negative
-- balance is a reserved future slot (the caller waits -tokens / p_rate seconds).

CREATE OR REPLACE FUNCTION wacrm_take_token(p_key text, p_rate double precision, p_burst double precision)
RETURNS double precision
LANGUAGE sql VOLATILE AS $$
  INSERT INTO outbound_rate_buckets AS b (key, tokens, updated_at)
  VALUES (p_key, p_burst - 1, clock_timestamp())
  ON CONFLICT (key) DO UPDATE SET
    tokens = least(p_burst, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * p_rate) - 1,
    updated_at = clock_timestamp()
  RETURNING tokens
$$;
