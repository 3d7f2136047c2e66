"""How much work one transaction may take on, measured in PostgreSQL's shared lock table.

DDL keeps every lock until commit: provisioning one agent holds one per new table, index,
sequence and constraint, a one-column per-agent migration a few. The lock table is shared by
every session (`max_locks_per_transaction` x connections, ~6,400 by default) and a transaction
that fills it makes *other* sessions fail with "out of shared memory". Work done in batches
therefore sizes each batch from the locks the previous one held, keeping a transaction to a
quarter of the table.
"""

from __future__ import annotations

CAPACITY_SQL = (
    "SELECT current_setting('max_locks_per_transaction')::int"
    " * current_setting('max_connections')::int AS capacity"
)
HELD_SQL = "SELECT count(*) AS held FROM pg_locks WHERE pid = pg_backend_pid()"
SHARE = 4  # a batch may use 1/SHARE of the lock table


def next_batch_size(*, capacity: int, held: int, done: int, largest: int) -> int:
    """Items for the next transaction, given that the last one held `held` locks for `done` items."""
    per_item = max(1.0, held / max(1, done))
    return max(1, min(largest, int(capacity / SHARE / per_item)))
