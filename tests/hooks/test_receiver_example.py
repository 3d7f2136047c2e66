"""The Python receiver of docs/integrations.md, taken from the page and run as a real process:
it verifies a real delivery's signature, refuses a bad one and handles a replayed event once."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import make_agent_user
from tests.outbound.conftest import add_customer, wait_until, worker
from wacrm.hooks import service as hooks
from wacrm.orders import service as orders

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def receiver_code() -> str:
    """The code block under '## A receiver in Python'."""
    section = DOC.read_text().split("## A receiver in Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/integrations.md has no Python receiver block"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DocReceiver:
    def __init__(self, workdir: Path, secret: str) -> None:
        (workdir / "receiver.py").write_text(receiver_code())
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.log = workdir / "out.log"
        env = {**os.environ, "WACRM_WEBHOOK_SECRET": secret, "PORT": str(self.port)}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, the doc's code
            [sys.executable, "-u", "receiver.py"],
            cwd=workdir,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the receiver did not start: " + self.output())

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def _delivered(conn: Any, endpoint_id: int, n: int) -> bool:
    rows = await hooks.deliveries(conn, endpoint_id=endpoint_id)
    return sum(r["state"] == "delivered" for r in rows) >= n


async def test_doc_receiver_verifies_refuses_and_dedupes(
    conn: Any, db_url: str, tmp_path: Path
) -> None:
    user = await make_agent_user(conn, "shop@example.com")
    port_probe = _free_port()  # the endpoint's URL needs the port before the secret exists
    endpoint = await hooks.create_endpoint(
        conn,
        agent_id=user["agent"]["id"],
        url=f"http://127.0.0.1:{port_probe}/hook",
        events=["order.created"],
        private_ok=True,
    )
    receiver = DocReceiver(tmp_path, endpoint["secret"])
    try:
        await hooks.update_endpoint(
            conn,
            endpoint_id=endpoint["id"],
            url=receiver.url,
            events=["order.created"],
            private_ok=True,
        )
        customer = await add_customer(conn, user["tables"], "+4915123456790")
        order = await orders.create_order(
            conn,
            tables=user["tables"],
            customer_id=customer["id"],
            items=[{"name": "Cup", "quantity": 1, "price": "3.50"}],
        )
        line = f"new order {order['id']}"
        async with worker(db_url):
            assert await wait_until(lambda: _delivered(conn, endpoint["id"], 1), 20)
            assert receiver.output().count(line) == 1, receiver.output()
            first = (await hooks.deliveries(conn, endpoint_id=endpoint["id"]))[0]
            assert first["last_status"] == 200
            await hooks.replay(conn, delivery_id=first["id"])
            assert await wait_until(lambda: _delivered(conn, endpoint["id"], 2), 20)
        rows = await hooks.deliveries(conn, endpoint_id=endpoint["id"])
        assert [r["last_status"] for r in rows] == [200, 200]
        assert receiver.output().count(line) == 1, receiver.output()  # replay answered, not handled

        body = b'{"id": "forged", "event": "order.created", "data": {"order": {"id": 999}}}'
        async with httpx.AsyncClient() as http:
            bad = await http.post(
                receiver.url, content=body, headers={hooks.SIGNATURE_HEADER: "sha256=" + "0" * 64}
            )
            unsigned = await http.post(receiver.url, content=body)
            good = await http.post(
                receiver.url,
                content=body,
                headers={hooks.SIGNATURE_HEADER: hooks.sign(body, endpoint["secret"])},
            )
        assert (bad.status_code, unsigned.status_code, good.status_code) == (401, 401, 200)
        assert receiver.output().count("new order 999") == 1
    finally:
        receiver.close()
