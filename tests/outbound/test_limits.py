"""The shared rate limiter: several worker processes never exceed a number's rate; customers are spaced."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.outbound.conftest import add_customer, reserve_pair, wait_until
from wacrm.outbound import service
from wacrm.outbound.schemas import TextContent

ROOT = Path(__file__).resolve().parents[2]
WORKER = "import asyncio,sys; from wacrm.worker import run_worker; asyncio.run(run_worker(sys.argv[1], concurrency=8, stop=asyncio.Event()))"


async def test_pair_bucket_allows_a_burst_then_spaces(conn: Any) -> None:
    waits = [await reserve_pair(conn, phone_number_id="1", recipient="49") for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 5.5 < waits[3] <= 6.0 and 11.5 < waits[4] <= 12.0
    assert await reserve_pair(conn, phone_number_id="1", recipient="50") == 0.0


@pytest.mark.slow
async def test_two_worker_processes_hold_the_number_rate(
    conn: Any, db_url: str, shop: dict[str, Any]
) -> None:
    rate, count = 10, 30
    sandbox = shop["sandbox"]
    sandbox.register_number(
        messages_per_second=rate
    )  # Meta's side enforces the same limit (130429)
    await conn.execute("UPDATE whatsapp_configuration SET messages_per_second = %s", (rate,))
    ids = []
    for i in range(count):
        customer = await add_customer(conn, shop["tables"], f"49151000{i:05d}", sandbox=sandbox)
        msg = await service.queue_message(
            conn,
            tables=shop["tables"],
            agent_id=shop["agent"]["id"],
            customer_id=customer["id"],
            content=TextContent(body=f"m{i}"),
            sent_by=None,
        )
        ids.append(msg["id"])
    env = {**os.environ, "WHATSAPP_API_BASE_URL": sandbox.base_url, "WACRM_LOG_LEVEL": "WARNING"}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, db_url], cwd=ROOT, env=env)
        for _ in range(2)
    ]
    try:

        async def all_done() -> bool:
            cur = await conn.execute(
                shop["tables"].query("SELECT count(*) AS n FROM {messages} WHERE wamid IS NOT NULL")
            )
            return (await cur.fetchone())["n"] == count

        assert await wait_until(all_done, timeout=90)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)
    sent = await sandbox.asent_messages()
    assert sent["count"] == count  # each message accepted exactly once
    # The shared bucket aims at 96% of the rate; on a loaded machine a send can reach the API
    # 100-300 ms after its slot, so a rare one lands in a busy second and is refused (then
    # retried). Two unshared limiters would be refused about half the time; allow at most 10%.
    # The benchmark (bench/outbound.py) reports the count against its target of zero.
    refused = sent.get("errors", {}).get("130429", 0)
    assert refused <= count // 10, refused
    times = sorted(m["created_at"] for m in sent["messages"])
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= rate, busiest
    assert times[-1] - times[0] >= (count - 1) / rate - 0.3  # spaced, not bunched
    await asyncio.sleep(0)


async def test_a_process_spaces_its_sends_of_one_number_after_a_stall() -> None:
    """Sends whose slots passed during an event-loop stall leave one by one, not as one burst."""
    import time

    from wacrm.outbound import sending as tasks

    left: list[float] = []

    async def send(phone: str) -> None:
        await tasks.pace(phone, 80)
        left.append(time.monotonic())

    async def stall() -> None:
        await asyncio.sleep(0.015)  # the first send has left, the next ones wait for their times
        time.sleep(0.08)  # the event loop stalls past several of those times

    await asyncio.gather(*(send("pace-test-1") for _ in range(5)), stall())
    gaps = [b - a for a, b in zip(left, left[1:], strict=False)]
    assert all(g >= tasks.LATE_SHARE / (80 * tasks.PACE) - 0.001 for g in gaps), gaps
    other = time.monotonic()
    await tasks.pace("pace-test-2", 80)  # another number is not held back by a gap
    assert time.monotonic() - other < 0.8 / (80 * tasks.PACE)
