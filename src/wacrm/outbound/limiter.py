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

# wacrm_take_token (migration 0033): refill at `rate`/s up to `burst`, take one, return the balance.
# The send job calls it inside its claim statement (wacrm.outbound.tasks); `reserve` alone here.
_TAKE = "SELECT wacrm_take_token(%s, %s, %s) AS tokens"


def wait_for(tokens: float, rate: float) -> float:
    """Seconds to wait for a slot, from the balance left after taking it (0 when it was free)."""
    return 0.0 if tokens >= 0 else -tokens / rate


async def reserve(conn: AsyncConnection[Any], *, key: str, rate: float, burst: float) -> float:
    """Take one token from bucket `key`; return the seconds to wait before using it (0 when free now)."""
    cur = await conn.execute(_TAKE, (key, float(rate), float(burst)))
    row = await cur.fetchone()
    assert row is not None
    return wait_for(float(row["tokens"]), rate)


async def reserve_number(
    conn: AsyncConnection[Any], *, phone_number_id: str, per_second: int
) -> float:
    """A send slot for a phone number: sends are spaced evenly at 96% of the rate, so no second holds more."""
    return await reserve(
        conn, key=number_key(phone_number_id), rate=number_rate(per_second), burst=1
    )


def number_key(phone_number_id: str) -> str:
    return f"n:{phone_number_id}"


def pair_key(phone_number_id: str, recipient: str) -> str:
    return f"p:{phone_number_id}:{recipient}"


def number_rate(per_second: int | None) -> float:
    """The rate a number's bucket refills at: 96% of its limit (80/s when not set)."""
    return (per_second or 80) * HEADROOM
