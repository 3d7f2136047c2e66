"""Fault 3: a worker SIGKILLed in the middle of sends and media downloads; another one takes over.

The send lease (WACRM_SEND_LEASE_SECONDS) and pgqueuer's heartbeat timeout are made short so the
takeover comes within seconds instead of about two minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.reliability.harness import (
    Cluster,
    Redeliverer,
    assert_exactly_once,
    outbound_done,
    outbound_states,
    provision,
    queue_texts,
    record,
    sandbox_sends_per_message,
    signed,
    wait_for,
)
from tests.sandbox_fixture import Sandbox

pytestmark = pytest.mark.slow

LEASE_S = 8  # above one slowed send (DELAY_S) plus the limiter's waits
HEARTBEAT_S = 4
DELAY_S = 4  # every Graph API call while the kill lands
RATE = 2  # messages per second: the later sends of the batch still wait on the limiter at the kill


def sends_state(db_url: str, agent_id: int) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM outbound_sends WHERE agent_id = %s GROUP BY state",
            (agent_id,),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def picked_jobs(db_url: str, entrypoint: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = %s AND status = 'picked'",
            (entrypoint,),
        ).fetchone()
    return int(row[0]) if row else 0


def media_states(db_url: str, tables: Any) -> dict[str | None, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            tables.query(
                "SELECT media_status, count(*) FROM {messages} WHERE media_id IS NOT NULL GROUP BY 1"
            )
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def test_worker_sigkill_mid_send_and_mid_download(
    db_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.register_number(enforce_window=False)
    tables = provision(db_url, messages_per_second=RATE)
    cluster = Cluster(
        tmp_path,
        db_url,
        WHATSAPP_API_BASE_URL=sandbox.base_url,
        WACRM_SEND_LEASE_SECONDS=str(LEASE_S),
    )
    hb = ("--heartbeat-timeout", str(HEARTBEAT_S))
    texts = [f"kill mid-send {n}" for n in range(8)]
    try:
        web = cluster.serve("web").start()  # WACRM_RUN_WORKER=false: the jobs go to the workers
        first = cluster.worker("worker-a", *hb).start()
        sandbox.set_faults("slow", delay_ms=DELAY_S * 1000)
        # inbound images: their download jobs start, and hang on the slowed Graph API
        images = [
            sandbox.send_as_customer(f"49153000000{n}", type="image", deliver=False)
            for n in range(3)
        ]
        Redeliverer([web.url]).deliver_all([signed(s["payload"]) for s in images])
        queue_texts(db_url, tables, texts)
        wait_for(
            lambda: (
                sends_state(db_url, tables.agent_id).get("sending") == len(texts)
                and picked_jobs(db_url, "media.download") == len(images)
            ),
            60,
            "all sends and downloads taken by worker A",
        )
        time.sleep(
            1.0
        )  # the first sends are at the (slow) Graph API, the later ones wait on the limiter
        before_kill = sandbox_sends_per_message(sandbox, texts)
        first.kill()
        at_graph_api = sandbox.http.get("/sandbox/faults").json()["hits"]  # requests held slow
        killed_at = time.monotonic()
        at_kill = {
            "messages": outbound_states(db_url, tables),
            "media": media_states(db_url, tables),
        }
        assert sum(before_kill.values()) == 0, before_kill  # the kill landed before any send ended
        assert at_kill["messages"] == {"sending": len(texts)}, at_kill
        assert at_kill["media"] == {"pending": len(images)}, at_kill
        assert at_graph_api > len(images), at_graph_api  # some sends were at the Graph API too
        # What Meta (the sandbox) accepted from requests made before the kill: it answers after
        # DELAY_S to a worker that is gone. Nobody can know these were sent: Meta has no
        # idempotency key, so the worker taking over sends them again (the honest double).
        time.sleep(DELAY_S + 1.0)
        accepted_from_dead = {t for t, n in sandbox_sends_per_message(sandbox, texts).items() if n}
        assert outbound_states(db_url, tables) == {"sending": len(texts)}  # nobody took over yet
        sandbox.set_faults("none")
        cluster.worker("worker-b", *hb).start()
        wait_for(
            lambda: (
                outbound_done(db_url, tables, len(texts))
                and media_states(db_url, tables) == {"ready": len(images)}
            ),
            90,
            "sends and downloads finished by worker B",
            every=0.5,
        )
        took_over_s = time.monotonic() - killed_at
        counts = sandbox_sends_per_message(sandbox, texts)
        # sent once each, except those Meta had accepted from the dead worker: exactly twice
        assert counts == {t: 2 if t in accepted_from_dead else 1 for t in texts}, counts
        assert len(accepted_from_dead) < len(texts), "every send had reached Meta: kill too late"
        assert set(outbound_states(db_url, tables)) <= {"sent", "delivered", "read"}
        assert sends_state(db_url, tables.agent_id) == {"done": len(texts)}
        assert_exactly_once(db_url, tables, [s["wamid"] for s in images])
        with psycopg.connect(db_url) as conn:
            files = conn.execute(
                tables.query("SELECT media_url FROM {messages} WHERE media_id IS NOT NULL")
            ).fetchall()
        assert all(f[0] for f in files), files
    finally:
        sandbox.set_faults("none")
        cluster.close()
    record(
        "worker_kill",
        {
            "faults_injected": 1,
            "sends_in_flight_at_kill": len(texts),
            "downloads_in_flight_at_kill": len(images),
            "graph_requests_in_flight_at_kill": at_graph_api,
            "accepted_by_meta_from_killed_worker": len(accepted_from_dead),
            "outbound_sent": len(texts),
            "sent_twice_honest": len(accepted_from_dead),
            "sent_twice_by_retry": 0,
            "stuck_in_sending": 0,
            "media_ready": len(images),
            "inbound_lost": 0,
            "inbound_doubled": 0,
            "done_after_kill_s": round(took_over_s, 1),
        },
    )
