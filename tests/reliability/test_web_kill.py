"""Fault 1: the web process SIGKILLed in the middle of a stream of webhooks; Meta re-delivers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.reliability.harness import (
    Cluster,
    Redeliverer,
    assert_exactly_once,
    assert_order_totals,
    inbound_counts,
    provision,
    record,
    signed,
    wait_for,
)
from tests.sandbox_fixture import signed_inbound

pytestmark = pytest.mark.slow


def test_sigkill_web_process_mid_stream(db_url: str, tmp_path: Path) -> None:
    tables = provision(db_url)
    bodies, wamids = [], []
    for n in range(400):
        if n % 20 == 7:  # a catalog order now and then: its total must come out right
            _, _, payload = signed_inbound("order", phone=f"49151000{n % 7:05d}")
        else:
            _, _, payload = signed_inbound("text", f"stream {n}", phone=f"49151000{n % 7:05d}")
        bodies.append(signed(payload))
        wamids.append(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])

    cluster = Cluster(tmp_path, db_url)
    try:
        web = cluster.serve("web").start()
        cluster.processor().start()  # the web process only journals (deferred processing)
        sender = Redeliverer([web.url], threads=4, pause=0.02)
        thread = threading.Thread(target=sender.deliver_all, args=(bodies,))
        thread.start()
        stored_at_kill = wait_for(
            lambda: (n := len(inbound_counts(db_url, tables))) >= 60 and n, 60, "60 rows stored"
        )
        web.kill()
        assert stored_at_kill < len(bodies), "the kill came after the stream ended"
        web.start()  # same port: the sender's retries reach the new process
        thread.join(timeout=120)
        assert not thread.is_alive() and sender.error is None, sender.error
        figures = assert_exactly_once(db_url, tables, wamids)
        orders = assert_order_totals(db_url, tables)
        assert orders == 20
    finally:
        cluster.close()
    record(
        "web_kill",
        {
            **figures,
            "orders": orders,
            "faults_injected": 1,
            "stored_at_kill": stored_at_kill,
            "deliveries": sender.attempts,
            "redeliveries": sender.failures,
        },
    )
