"""`wacrm serve --demo`: a sandbox beside the CRM, a demo agent, and customers who already wrote."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg

from tests.cli.test_serve import WACRM, env_for, free_port, stop, wait_ready


def test_demo_fills_the_inbox_through_the_sandbox(db_url: str, tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = env_for(tmp_path, DATABASE_URL=db_url, WACRM_RUN_WORKER="true")
    proc = subprocess.Popen(
        [*WACRM, "serve", "--demo", "--port", str(port), "--sandbox-port", str(sandbox_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        deadline = time.monotonic() + 40
        kinds: set[str] = set()
        while time.monotonic() < deadline:
            with psycopg.connect(db_url) as conn:
                prefix = conn.execute(
                    "SELECT a.agent_prefix FROM agents a JOIN users u ON u.id = a.user_id "
                    "WHERE u.email = 'agent@demo.example.com'"
                ).fetchone()
                if prefix:
                    rows = conn.execute(
                        f"SELECT wa_type, media_status FROM {prefix[0]}_messages"
                    ).fetchall()
                    kinds = {r[0] for r in rows}
                    if {"text", "location", "image", "order"} <= kinds and (
                        "image",
                        "ready",
                    ) in rows:
                        break
            time.sleep(0.5)
        assert {"text", "location", "image", "order"} <= kinds
        assert ("image", "ready") in rows  # the media was downloaded from the sandbox
    finally:
        stop(proc)
    assert (tmp_path / "data" / "demo.json").stat().st_mode & 0o077 == 0
