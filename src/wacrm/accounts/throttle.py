"""Login throttling by account and by client address (table login_throttle)."""

from __future__ import annotations

import math
from typing import Any

from psycopg import AsyncConnection

from wacrm.errors import AppError
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text

SLOW_AFTER = 5  # failures after which each further attempt waits (1, 2, 4, 8, 16 s)
LOCK_AFTER = 10  # failures after which the key is locked for LOCK_MINUTES
LOCK_MINUTES = 15
WINDOW_MINUTES = 15  # failures older than this are forgotten


TOO_MANY = {
    ("failed logins", "account"): N_(
        "too many failed logins for this account; try again in {wait}"
    ),
    ("failed logins", "address"): N_(
        "too many failed logins for this address; try again in {wait}"
    ),
    ("wrong passwords", "account"): N_(
        "too many wrong passwords for this account; try again in {wait}"
    ),
    ("wrong passwords", "address"): N_(
        "too many wrong passwords for this address; try again in {wait}"
    ),
}


class LoginThrottledError(AppError):
    """Too many failed logins for this account or address; retry after `retry_after` seconds
    (429 with Retry-After)."""

    status = 429

    def __init__(self, retry_after: int, what: str, attempts: str = "failed logins") -> None:
        self.retry_after = max(1, retry_after)
        minutes = math.ceil(self.retry_after / 60)
        if self.retry_after == 1:
            wait = Text("1 second")
        elif self.retry_after < 120:
            wait = Text("{n} seconds", n=self.retry_after)
        else:
            wait = Text("{n} minutes", n=minutes)
        sentence = TOO_MANY.get((attempts, what))
        super().__init__(
            Text(sentence, wait=wait)
            if sentence
            else f"too many {attempts} for this {what}; try again in {wait.english()}",
            headers={"Retry-After": str(self.retry_after)},
        )


def keys_for(email: str, ip: str | None) -> list[tuple[str, str]]:
    keys = [(f"account:{email.strip().lower()}", "account")]
    if ip:
        keys.append((f"ip:{ip}", "address"))
    return keys


async def check(
    conn: AsyncConnection[Any], *, email: str, ip: str | None, attempts: str = "failed logins"
) -> None:
    """Raise LoginThrottledError if the account or the address is currently locked.

    Sign-in and the current-password check of a password change share the counts: both guess
    the same password."""
    keys = keys_for(email, ip)
    cur = await conn.execute(
        """SELECT key, ceil(extract(epoch FROM locked_until - now()))::int AS wait
           FROM login_throttle WHERE key = ANY(%s) AND locked_until > now()
           ORDER BY locked_until DESC LIMIT 1""",
        ([k for k, _ in keys],),
    )
    row = await cur.fetchone()
    if row is not None:
        what = dict(keys)[row["key"]]
        raise LoginThrottledError(row["wait"], what, attempts)


async def record_failure(conn: AsyncConnection[Any], *, email: str, ip: str | None) -> None:
    """Count a failed login for the account and the address, locking them as the counts grow."""
    for key, _ in keys_for(email, ip):
        await conn.execute(
            """
            INSERT INTO login_throttle AS t (key, failures, last_failure_at) VALUES (%(k)s, 1, now())
            ON CONFLICT (key) DO UPDATE SET
              failures = CASE WHEN t.last_failure_at < now() - make_interval(mins => %(w)s)
                              THEN 1 ELSE t.failures + 1 END,
              last_failure_at = now()
            """,
            {"k": key, "w": WINDOW_MINUTES},
        )
        await conn.execute(
            """
            UPDATE login_throttle SET locked_until = CASE
                WHEN failures >= %(lock)s THEN now() + make_interval(mins => %(lm)s)
                WHEN failures >= %(slow)s
                  THEN now() + make_interval(secs => power(2, failures - %(slow)s))
                ELSE NULL END
            WHERE key = %(k)s
            """,
            {"k": key, "lock": LOCK_AFTER, "lm": LOCK_MINUTES, "slow": SLOW_AFTER},
        )


async def clear_account(conn: AsyncConnection[Any], *, email: str) -> None:
    """Forget an account's failures after a successful login (the address count decays on its own)."""
    await conn.execute("DELETE FROM login_throttle WHERE key = %s", (keys_for(email, None)[0][0],))
