"""DATABASE_READ_URL against a real streaming replica started here (Debian's PostgreSQL 15:
initdb, pg_basebackup -R): exports read from the replica; when its replay is paused (lag) or it is
stopped (down) they read from the primary, and /metrics says which and why."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.deploy.services import primary_and_replica
from tests.helpers import bearer
from tests.reliability.harness import Cluster, provision_agent, record, wait_for
from wacrm.db.migrate import migrate

pytestmark = pytest.mark.slow


def metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def add_customer(url: str, tables, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            tables.query("INSERT INTO {customers} (name, phone) VALUES (%s, %s)"),
            (name, f"49170{abs(hash(name)) % 10**8:08d}"),
        )


def test_reads_use_the_replica_and_fall_back_when_it_lags_or_is_down(tmp_path: Path) -> None:
    started = time.monotonic()
    with primary_and_replica() as (primary, replica):
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE crm")
        db_url, read_url = primary.url("crm"), replica.url("crm")
        migrate(db_url)
        agent = provision_agent(db_url)
        tables, token = agent["tables"], agent["token"]
        add_customer(db_url, tables, "Before replica check")
        cluster = Cluster(
            tmp_path, db_url, DATABASE_READ_URL=read_url, WACRM_READ_MAX_LAG_SECONDS="1"
        )
        try:
            web = cluster.serve("web").start()
            export = web.url + "/api/v1/customers/export.csv"

            def reads(target: str, reason: str = "") -> float:
                return metric(
                    web.url, "wacrm_db_reads_total", purpose="export", target=target, reason=reason
                )

            wait_for(lambda: metric(web.url, "wacrm_db_replica_in_use") == 1, 30, "replica used")
            answer = httpx.get(export, headers=bearer(token), timeout=10)
            assert answer.status_code == 200 and "Before replica check" in answer.text
            assert reads("replica") == 1 and reads("primary", "lag") == 0
            # the dashboard and the admin journal view read there too
            admin = httpx.Client(base_url=web.url, timeout=10)
            signed_in = admin.post(
                "/api/v1/auth/login",
                json={"email": "boss@example.com", "password": "a-long-enough-passphrase-1"},
            )
            assert signed_in.status_code == 200, signed_in.text
            assert admin.get("/admin/webhooks").status_code == 200
            board = admin.get("/dashboard", params={"agents": "all"})
            assert board.status_code == 200, board.text[:300]
            for purpose in ("journal", "dashboard"):
                assert (
                    metric(
                        web.url,
                        "wacrm_db_reads_total",
                        purpose=purpose,
                        target="replica",
                        reason="",
                    )
                    == 1
                ), purpose

            # lag: the replica stops replaying while the primary commits
            with psycopg.connect(read_url, autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_pause()")
            add_customer(db_url, tables, "Written during the lag")
            wait_for(
                lambda: metric(web.url, "wacrm_db_replica_in_use") == 0,
                30,
                "the lagging replica no longer used",
                every=0.5,
            )
            assert metric(web.url, "wacrm_db_replica_lag_seconds") > 1
            answer = httpx.get(export, headers=bearer(token), timeout=10)
            assert answer.status_code == 200 and "Written during the lag" in answer.text
            assert reads("primary", "lag") == 1
            with psycopg.connect(read_url, autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
            wait_for(lambda: metric(web.url, "wacrm_db_replica_in_use") == 1, 30, "caught up")
            answer = httpx.get(export, headers=bearer(token), timeout=10)
            assert "Written during the lag" in answer.text and reads("replica") == 2

            # down: the replica stops; reads go to the primary, nothing fails
            replica.stop()
            wait_for(lambda: metric(web.url, "wacrm_db_replica_up") == 0, 30, "replica down")
            for _ in range(3):
                answer = httpx.get(export, headers=bearer(token), timeout=10)
                assert answer.status_code == 200 and "Written during the lag" in answer.text
            assert reads("primary", "down") == 3
            assert re.search(r"wacrm_db_replica_in_use 0", httpx.get(web.url + "/metrics").text)
            ready = httpx.get(web.url + "/readyz", timeout=5)
            assert ready.status_code == 200  # the primary serves: the CRM stays ready
        finally:
            cluster.close()
    record("read_replica", {"seconds": round(time.monotonic() - started, 1)})
