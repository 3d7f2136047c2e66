"""The whole flow through Debian's PgBouncer 1.18 in transaction mode.

`wacrm serve` and `wacrm worker` get DATABASE_URL through the pooler and DATABASE_DIRECT_URL to the
server: webhooks under concurrency, the API, SSE (its LISTEN on the direct URL) and sends. Before
`prepare_threshold=None`, 154 of 200 concurrent webhooks answered 500 here (`prepared statement
"_pg3_0" does not exist`) and LISTEN through the pooler delivered no live events.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.deploy.services import pgbouncer
from tests.helpers import bearer
from tests.reliability.harness import (
    Cluster,
    Redeliverer,
    assert_exactly_once,
    outbound_done,
    provision_agent,
    queue_texts,
    record,
    signed,
    text_webhooks,
    wait_for,
)
from tests.reliability.test_many_processes import SseListener, ids_of
from tests.sandbox_fixture import Sandbox

pytestmark = pytest.mark.slow


def test_whole_flow_through_pgbouncer_transaction_mode(
    db_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    started = time.monotonic()
    agent = provision_agent(db_url, messages_per_second=80)
    tables = agent["tables"]
    sandbox.register_number(enforce_window=False)
    with pgbouncer(db_url, pool_size=6) as pooled:
        cluster = Cluster(
            tmp_path,
            pooled,
            DATABASE_DIRECT_URL=db_url,
            WHATSAPP_API_BASE_URL=sandbox.base_url,
        )
        listener = SseListener("", agent["token"])
        try:
            web = cluster.serve("web").start()
            cluster.worker("worker").start()
            listener.url = web.url
            listener.start()
            assert listener.ready.wait(30) and listener.error is None, listener.error

            webhooks = text_webhooks(200, "pooled")
            sender = Redeliverer([web.url], threads=8, deadline_s=60)
            sender.deliver_all([signed(p) for p, _ in webhooks])
            assert sender.error is None, (sender.error, (tmp_path / "web.log").read_text()[-3000:])
            assert sender.failures == 0, "webhooks answered other than 200 through the pooler"
            wamids = [w for _, w in webhooks]
            figures = assert_exactly_once(db_url, tables, wamids)
            stored = ids_of(db_url, tables, wamids)
            wait_for(lambda: stored <= listener.message_ids(), 30, "SSE seeing every message")

            def api(_: int) -> int:
                with httpx.Client(timeout=10, trust_env=False) as http:
                    answers = [
                        http.get(web.url + path, headers=bearer(agent["token"])).status_code
                        for path in (
                            "/api/v1/conversations",
                            "/api/v1/orders",
                            "/api/v1/orders/totals",
                        )
                        * 4
                    ]
                return max(answers)

            with ThreadPoolExecutor(6) as threads:
                assert set(threads.map(api, range(6))) == {200}

            texts = [f"pooled send {n}" for n in range(30)]
            queue_texts(db_url, tables, texts)
            wait_for(lambda: outbound_done(db_url, tables, len(texts)), 90, "30 sends", every=0.5)
            wait_for(
                lambda: len(listener.message_ids("status")) >= len(texts),
                30,
                "SSE seeing the sends' status changes",
            )
        finally:
            cluster.close()
            listener.join(15)
    figures.update(
        {
            "webhooks": len(webhooks),
            "concurrent_senders": 8,
            "sends": len(texts),
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    record("pgbouncer", figures)
