"""Drop the test (wacrm_t_/e_/tpl_*) and benchmark (wacrm_bench_*) databases nobody is connected to.

Test runs drop their databases at the end; a run that was killed leaves them behind, and each
one left makes every CREATE/DROP DATABASE of the next runs slower. CI calls this before the suite.
"""

from __future__ import annotations

import sys

import psycopg

STALE = """
SELECT datname FROM pg_database d
WHERE datname ~ '^wacrm_(t|e|tpl|bench)_'
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
"""


def main(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(STALE).fetchall()]
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # names matched the pattern above
    print(f"dropped {len(names)} stale test databases")


if __name__ == "__main__":
    main(sys.argv[1])
