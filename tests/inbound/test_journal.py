"""The journal seen by admins, and `wacrm webhooks replay` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import bearer, make_admin
from tests.inbound.conftest import deliver, load, rows


async def test_admin_lists_failed_webhooks(client, conn, agent):
    await deliver(client, load("text_old_shape"))
    await deliver(client, load("wrong_shape"))
    admin = await make_admin(conn)
    r = await client.get(
        "/api/v1/admin/webhooks", params={"status": "failed"}, headers=bearer(admin["token"])
    )
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert (
        item["status"] == "failed"
        and "shape" in item["error"]
        and item["body"] == load("wrong_shape")
    )
    r = await client.get("/api/v1/admin/webhooks", headers=bearer(admin["token"]))
    assert len(r.json()["items"]) == 2
    assert (
        await client.get("/api/v1/admin/webhooks", headers=bearer(agent["token"]))
    ).status_code == 403
    assert (await client.get("/api/v1/admin/webhooks")).status_code == 401
    r = await client.get(
        "/api/v1/admin/webhooks", params={"status": "nope"}, headers=bearer(admin["token"])
    )
    assert r.status_code == 422


def _cli(db_url, *args):
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "wacrm"), "webhooks", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_replay_cli(client, conn, agent, db_url):
    await conn.execute("UPDATE whatsapp_configuration SET is_active = false")
    await deliver(client, load("text_old_shape"))
    [j] = await rows(conn, "SELECT id, status FROM webhook_journal")
    assert j["status"] == "failed"
    bad = _cli(db_url, "replay")
    assert bad.returncode == 2 and "--id" in bad.stderr
    still = _cli(db_url, "replay", "--failed", "--json")
    assert still.returncode == 1 and json.loads(still.stdout)["failed"] == 1
    await conn.execute("UPDATE whatsapp_configuration SET is_active = true")
    done = _cli(db_url, "replay", "--id", str(j["id"]), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"] == [
        {"id": j["id"], "status": "processed", "error": None}
    ]
    assert len(await rows(conn, agent["tables"].query("SELECT id FROM {messages}"))) == 1
    assert _cli(db_url, "replay", "--id", "999999").returncode == 1
