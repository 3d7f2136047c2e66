"""Rate limits shared by every worker process: token buckets in PostgreSQL, taken with one statement.

A bucket's balance may go below zero: that is a reserved slot in the future, and the caller waits
until it comes. The row lock of the UPDATE orders concurrent callers, so the rate holds across
processes and machines.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

PAIR_RATE = 1 / 6  # messages per second to one customer, sustained (Meta's pair limit)
PAIR_BURST = 3.0
HEADROOM = 0.96  # aim under the number's rate: jitter must not push any 1 s window of sends over it

_TAKE = """
INSERT INTO outbound_rate_buckets AS b (key, tokens, updated_at)
VALUES (%(key)s, %(burst)s - 1, clock_timestamp())
ON CONFLICT (key) DO UPDATE SET
  tokens = least(%(burst)s, b.tokens + extract(epoch FROM clock_timestamp() - b.updated_at) * %(rate)s) - 1,
  updated_at = clock_timestamp()
RETURNING tokens
"""


async def reserve(conn: AsyncConnection[Any], *, key: str, rate: float, burst: float) -> float:
    """Take one token from bucket `key`; return the seconds to wait before using it (0 when free now)."""
    cur = await conn.execute(_TAKE, {"key": key, "rate": float(rate), "burst": float(burst)})
    row = await cur.fetchone()
    assert row is not None
    tokens = float(row["tokens"])
    return 0.0 if tokens >= 0 else -tokens / rate


async def reserve_number(
    conn: AsyncConnection[Any], *, phone_number_id: str, per_second: int
) -> float:
    """A send slot for a phone number: sends are spaced evenly at 96% of the rate, so no second holds more."""
    return await reserve(conn, key=f"n:{phone_number_id}", rate=per_second * HEADROOM, burst=1)


async def reserve_pair(
    conn: AsyncConnection[Any], *, phone_number_id: str, recipient: str
) -> float:
    """A send slot for one customer: small bursts, then one message every 6 s."""
    return await reserve(
        conn, key=f"p:{phone_number_id}:{recipient}", rate=PAIR_RATE, burst=PAIR_BURST
    )
