"""Faults 5 and 6: the media folder unwritable or full; the Graph API slow, failing or unreachable."""

from __future__ import annotations

import statistics
import subprocess
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
    provision,
    queue_texts,
    record,
    sandbox_sends_per_message,
    signed,
    text_webhooks,
    wait_for,
)
from tests.sandbox_fixture import Sandbox
from wacrm.sandbox.app import create_sandbox_app
from wacrm.sandbox.server import ThreadedServer, free_port

pytestmark = pytest.mark.slow


def media_rows(db_url: str, tables: Any) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            tables.query(
                "SELECT id, wamid, media_status, media_error FROM {messages} WHERE media_id IS NOT NULL ORDER BY id"
            )
        ).fetchall()
    return [{"id": r[0], "wamid": r[1], "status": r[2], "error": r[3]} for r in rows]


def _make_unwritable(media: Path, how: str) -> Any:
    """Break the media folder; returns the function that repairs it."""
    if how == "file_in_the_way":  # root ignores permissions: a file where the folder must be
        media.parent.mkdir(parents=True, exist_ok=True)
        media.write_text("not a folder")
        return lambda: media.unlink()
    media.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(media)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tiny tmpfs here ({mounted.stderr.strip()}): disk-full not tested"
        )
    filler = media / "filler"
    try:  # fill it to the last block
        with open(filler, "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    except OSError:
        pass
    return lambda: filler.unlink()


@pytest.mark.parametrize("how", ["file_in_the_way", "disk_full"])
def test_media_folder_unwritable(how: str, db_url: str, sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.register_number()
    cluster = Cluster(
        tmp_path, db_url, WACRM_RUN_WORKER="true", WHATSAPP_API_BASE_URL=sandbox.base_url
    )
    media = tmp_path / "data" / "media"
    repair = _make_unwritable(media, how)
    try:
        tables = provision(db_url)
        web = cluster.serve("web").start()
        wamids = []
        bodies = []
        for n in range(3):
            sent = sandbox.send_as_customer(
                f"49152000000{n}", type="image", text=f"photo {n}", deliver=False
            )
            bodies.append(signed(sent["payload"]))
            wamids.append(sent["wamid"])
        Redeliverer([web.url]).deliver_all(bodies)
        assert_exactly_once(
            db_url, tables, wamids
        )  # the messages are stored whatever the disk does
        failing = wait_for(
            lambda: (
                (rows := media_rows(db_url, tables))
                and all(r["status"] == "retrying" and r["error"] for r in rows)
                and rows
            ),
            60,
            "downloads failing visibly",
        )
        repair()
        wait_for(
            lambda: all(r["status"] == "ready" for r in media_rows(db_url, tables)),
            60,
            "downloads done after the repair",
            every=0.5,
        )
        assert_exactly_once(db_url, tables, wamids)
    finally:
        cluster.close()
        if how == "disk_full":
            subprocess.run(["umount", "-l", str(media)], capture_output=True)
    record(
        f"media_{how}",
        {
            "messages": 3,
            "lost": 0,
            "doubled": 0,
            "error_shown": failing[0]["error"],
            "recovered": 3,
        },
    )


def test_graph_api_slow_failing_and_unreachable(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    server = ThreadedServer(create_sandbox_app(), port=port).start()
    sandbox = Sandbox(server.base_url, server.server.config.app)
    sandbox.register_number(enforce_window=False)
    cluster = Cluster(
        tmp_path, db_url, WACRM_RUN_WORKER="true", WHATSAPP_API_BASE_URL=server.base_url
    )
    texts: list[str] = []
    figures: dict[str, Any] = {}
    try:
        tables = provision(db_url)
        web = cluster.serve("web").start()
        # 5xx: the first three requests fail; each send is retried with back-off and goes out once
        sandbox.set_faults("error5xx", count=3)
        batch = [f"5xx {n}" for n in range(3)]
        texts += batch
        queue_texts(db_url, tables, batch)
        wait_for(
            lambda: outbound_done(db_url, tables, len(texts)), 60, "sends after 5xx", every=0.5
        )
        figures["5xx_injected"] = 3

        # slow: every Graph call takes 3 s; webhooks meanwhile stay fast
        sandbox.set_faults("slow", delay_ms=3000)
        batch = [f"slow {n}" for n in range(6)]
        texts += batch
        queue_texts(db_url, tables, batch)
        time.sleep(1)  # the sends are now waiting on the slow API
        hooks = text_webhooks(100, "during slow sends")
        sender = Redeliverer([web.url], threads=4)
        sender.deliver_all([signed(p) for p, _ in hooks])
        assert sender.failures == 0
        lat = sorted(sender.latencies)
        p99 = lat[int(len(lat) * 0.99) - 1]
        figures.update(
            {
                "webhooks_during_slow_sends": len(lat),
                "webhook_p50_ms": round(statistics.median(lat) * 1000, 1),
                "webhook_p99_ms": round(p99 * 1000, 1),
            }
        )
        assert p99 < 2.0, figures  # generous: a loaded 2-core machine; typically tens of ms
        assert_exactly_once(db_url, tables, [w for _, w in hooks])
        wait_for(lambda: outbound_done(db_url, tables, len(texts)), 60, "slow sends", every=0.5)
        sandbox.set_faults("none")
        counts = sandbox_sends_per_message(sandbox, texts)
        assert set(counts.values()) == {1}, counts  # retried after 5xx, yet sent once each

        # unreachable: the API is down (connection refused); sends wait in 'queued' with the reason
        server.stop()
        batch = [f"down {n}" for n in range(3)]
        texts += batch
        ids = queue_texts(db_url, tables, batch)

        def explained() -> list[Any]:
            with psycopg.connect(db_url) as conn:
                rows = conn.execute(
                    tables.query(
                        "SELECT status, error_title, error_details FROM {messages} WHERE id = ANY(%s)"
                    ),
                    (ids,),
                ).fetchall()
            return rows if all(r[0] == "queued" and r[1] for r in rows) else []

        shown = wait_for(explained, 60, "a queued state with an explanation while the API is down")
        figures["shown_while_down"] = f"{shown[0][1]}: {shown[0][2]}"
        server = ThreadedServer(create_sandbox_app(), port=port).start()
        sandbox = Sandbox(server.base_url, server.server.config.app)
        sandbox.register_number(enforce_window=False)
        wait_for(
            lambda: outbound_done(db_url, tables, len(texts)),
            60,
            "sends after the API is back",
            every=0.5,
        )
        counts = sandbox_sends_per_message(sandbox, batch)
        assert set(counts.values()) == {1}, counts
    finally:
        cluster.close()
        server.stop()
    record("graph_api_faults", {**figures, "outbound_sent": len(texts), "outbound_doubled": 0})
