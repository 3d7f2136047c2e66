"""Fault 2: PostgreSQL stopped and started again during ingest and during sends.

Runs on a DEDICATED embedded server (pgserver in a temporary folder), never the shared one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.reliability.harness import (
    Cluster,
    Redeliverer,
    assert_exactly_once,
    assert_order_totals,
    inbound_counts,
    outbound_done,
    provision,
    queue_texts,
    record,
    sandbox_sends_per_message,
    signed,
    text_webhooks,
    wait_for,
)

pytestmark = pytest.mark.slow


class DedicatedPostgres:
    """A pgserver of this test only, which the test may stop and start."""

    def __init__(self) -> None:
        import pgserver

        self.root = Path(tempfile.mkdtemp(prefix="wacrm-pgrestart-"))
        self.pgdata = self.root / "pgdata"
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self.url = self.server.get_uri()
        self.socket_dir = parse_qs(urlparse(self.url).query)["host"][0]

    def _ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        log = str(self.pgdata / "log")
        self._ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")

    def close(self) -> None:
        try:
            self.server.cleanup()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def dedicated_pg() -> Iterator[DedicatedPostgres]:
    pg = DedicatedPostgres()
    try:
        yield pg
    finally:
        pg.close()


def readyz(url: str) -> int | None:
    try:
        return httpx.get(url + "/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return None


def test_postgres_restart_during_ingest_and_sends(
    dedicated_pg: DedicatedPostgres, sandbox: Any, tmp_path: Path
) -> None:
    url = dedicated_pg.url
    cluster = Cluster(
        tmp_path, url, WACRM_RUN_WORKER="true", WHATSAPP_API_BASE_URL=sandbox.base_url
    )
    sandbox.register_number(enforce_window=False)
    try:
        web = cluster.serve("web").start()  # migrates the dedicated server
        tables = provision(url)
        hooks = text_webhooks(300, "pg")
        sender = Redeliverer([web.url], threads=4, pause=0.03, deadline_s=150)
        before = [f"before restart {n}" for n in range(10)]
        queue_texts(url, tables, before)
        sandbox.set_faults("slow", delay_ms=300)  # sends still in flight when the server stops
        thread = threading.Thread(target=sender.deliver_all, args=([signed(p) for p, _ in hooks],))
        thread.start()
        wait_for(lambda: len(inbound_counts(url, tables)) >= 40, 60, "40 webhooks stored")
        dedicated_pg.stop()
        down_at = time.monotonic()
        # while it is down: /readyz says so, webhooks are refused (503) and re-delivered later
        assert wait_for(lambda: readyz(web.url) == 503, 20, "/readyz 503 during the outage")
        time.sleep(2)
        dedicated_pg.start()
        outage = time.monotonic() - down_at
        wait_for(lambda: readyz(web.url) == 200, 60, "/readyz 200 after the restart")
        sandbox.set_faults("none")
        after = [f"after restart {n}" for n in range(5)]
        queue_texts(url, tables, after)
        thread.join(timeout=150)
        assert not thread.is_alive() and sender.error is None, sender.error
        figures = assert_exactly_once(url, tables, [w for _, w in hooks])
        wait_for(lambda: outbound_done(url, tables, 15), 90, "all 15 sends done", every=1)
        sends = sandbox_sends_per_message(sandbox, before + after)
        assert set(sends.values()) == {1}, sends
        assert_order_totals(url, tables)
    finally:
        cluster.close()
    record(
        "database_restart",
        {
            **figures,
            "faults_injected": 1,
            "outage_s": round(outage, 1),
            "refused_then_redelivered": sender.failures,
            "outbound_sent": 15,
            "outbound_doubled": 0,
        },
    )
