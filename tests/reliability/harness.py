"""Fault-test harness: CRM processes, a provisioned agent, a Meta-like re-delivering sender, invariants."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from bench.fixtures import journal_waiting
from psycopg.rows import dict_row

from tests.cli.test_serve import env_for, free_port
from tests.sandbox_fixture import DEFAULT_NUMBER
from wacrm.agents.tables import AgentTables
from wacrm.sandbox.payloads import dumps, sign

WACRM = [sys.executable, "-m", "wacrm"]
SECRET_KEY = "x" * 40  # env_for's key: every process must decrypt the number's secrets
NUMBER = DEFAULT_NUMBER


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `check()` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@contextmanager
def _secret_key() -> Iterator[None]:
    from wacrm.config import get_settings

    old = os.environ.get("WACRM_SECRET_KEY")
    os.environ["WACRM_SECRET_KEY"] = SECRET_KEY
    get_settings.cache_clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("WACRM_SECRET_KEY", None)
        else:
            os.environ["WACRM_SECRET_KEY"] = old
        get_settings.cache_clear()


def provision(db_url: str, *, messages_per_second: int = 80) -> AgentTables:
    """An agent user, its agent tables and the sandbox's default number (secrets encrypted)."""
    return provision_agent(db_url, messages_per_second=messages_per_second)["tables"]


def provision_agent(db_url: str, *, messages_per_second: int = 80) -> dict[str, Any]:
    """`provision`, returning make_agent_user's {"user_id", "agent", "token", "tables"}."""
    from tests.helpers import configure_sandbox_number, make_agent_user

    async def go() -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            agent = await make_agent_user(conn, "faults@example.com")
            await configure_sandbox_number(
                conn,
                agent["user_id"],
                NUMBER,
                whatsapp_number="+" + NUMBER["display_phone_number"],
                messages_per_second=messages_per_second,
            )
            return agent

    with _secret_key():
        return asyncio.run(go())


@dataclass
class Proc:
    """A `wacrm` subprocess (serve or worker) with its log file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Proc:
        fh = open(self.log, "ab")  # noqa: SIM115 - kept by the child
        self.popen = subprocess.Popen(
            [*WACRM, *self.args], env=self.env, stdout=fh, stderr=subprocess.STDOUT
        )
        fh.close()
        if wait and self.port:
            wait_for(self._ready, 90, f"{self.args[0]} on {self.url} ready ({self.log})")
        return self

    def _ready(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise AssertionError(f"{self.args} exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no graceful anything."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(30)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


class Cluster:
    """The processes of one test, all stopped at the end."""

    def __init__(self, tmp: Path, db_url: str, **env: str) -> None:
        self.tmp = tmp
        self.env = env_for(tmp, DATABASE_URL=db_url, WACRM_SECRET_KEY=SECRET_KEY, **env)
        self.procs: list[Proc] = []

    def serve(self, name: str = "web", port: int | None = None, **env: str) -> Proc:
        port = port or free_port()
        proc = Proc(
            ["serve", "--port", str(port)], {**self.env, **env}, self.tmp / f"{name}.log", port
        )
        self.procs.append(proc)
        return proc

    def worker(self, name: str = "worker", *extra: str, **env: str) -> Proc:
        proc = Proc(["worker", *extra], {**self.env, **env}, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def processor(self, name: str = "processor", **env: str) -> Proc:
        """`wacrm webhooks process`: a journal processor alone (the web processes only journal)."""
        proc = Proc(["webhooks", "process"], {**self.env, **env}, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = dumps(payload)
    return body, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body, NUMBER["app_secret"]),
    }


@dataclass
class Redeliverer:
    """Plays Meta: POSTs each webhook until one of `urls` answers 200 (round robin), in threads."""

    urls: list[str]
    threads: int = 6
    timeout: float = 5.0
    deadline_s: float = 120.0
    pause: float = 0.0  # between two webhooks of one thread (a steady stream rather than a burst)
    error: str | None = None
    attempts: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver_all(self, bodies: list[tuple[bytes, dict[str, str]]]) -> None:
        queue = list(enumerate(bodies))
        pending = threading.Lock()

        def take() -> tuple[int, tuple[bytes, dict[str, str]]] | None:
            with pending:
                return queue.pop(0) if queue else None

        def run() -> None:
            with httpx.Client(timeout=self.timeout, trust_env=False) as http:
                while (item := take()) is not None:
                    if not self._deliver(http, *item):
                        return
                    time.sleep(self.pause)

        workers = [threading.Thread(target=run) for _ in range(self.threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    def _deliver(self, http: httpx.Client, n: int, item: tuple[bytes, dict[str, str]]) -> bool:
        body, headers = item
        deadline = time.monotonic() + self.deadline_s
        k = n
        while time.monotonic() < deadline:
            url = self.urls[k % len(self.urls)] + "/webhooks/whatsapp"
            k += 1
            started = time.monotonic()
            try:
                status = http.post(url, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
            with self._lock:
                self.attempts += 1
                if status == 200:
                    self.latencies.append(time.monotonic() - started)
                    return True
                self.failures += 1
            time.sleep(0.1)
        self.error = f"webhook {n} was never accepted within {self.deadline_s}s"
        return False


def text_webhooks(count: int, tag: str, customers: int = 5) -> list[tuple[dict[str, Any], str]]:
    """(payload, wamid) of `count` inbound texts from a few customers."""
    from tests.sandbox_fixture import signed_inbound

    out = []
    for n in range(count):
        _, _, payload = signed_inbound(
            "text",
            f"{tag} message {n}",
            phone=f"49151000{n % customers:05d}",
            name=f"C{n % customers}",
        )
        wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        out.append((payload, wamid))
    return out


def inbound_counts(db_url: str, tables: AgentTables) -> dict[str, int]:
    """wamid -> rows, of the inbound messages stored."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            tables.query(
                "SELECT wamid, count(*) FROM {messages} WHERE direction = 'inbound' GROUP BY wamid"
            )
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def assert_exactly_once(db_url: str, tables: AgentTables, wamids: list[str]) -> dict[str, int]:
    """Every wamid stored once, nothing else stored: the figures for docs/reliability.md.

    Waits first for the journal processors to process what was answered 200 (deferred processing).
    """
    wait_for(lambda: journal_waiting(db_url) == 0, 90, "the journal processed")
    counts = inbound_counts(db_url, tables)
    lost = [w for w in wamids if w not in counts]
    doubled = [w for w, c in counts.items() if c > 1]
    extra = set(counts) - set(wamids)
    assert not lost and not doubled and not extra, (lost[:5], doubled[:5], list(extra)[:5])
    return {"sent": len(wamids), "stored": len(counts), "lost": len(lost), "doubled": len(doubled)}


def assert_order_totals(db_url: str, tables: AgentTables) -> int:
    """Every order's total is the sum of its items; returns the number of orders."""
    with psycopg.connect(db_url) as conn:
        wrong = conn.execute(
            tables.query(
                """SELECT o.id FROM {orders} o LEFT JOIN {orders_items} i ON i.order_id = o.id
                   GROUP BY o.id HAVING o.total_amount IS DISTINCT FROM coalesce(sum(i.total), 0)"""
            )
        ).fetchall()
        n = conn.execute(tables.query("SELECT count(*) FROM {orders}")).fetchone()
    assert not wrong, f"orders with a wrong total: {wrong}"
    return int(n[0]) if n else 0


SENT = ("sent", "delivered", "read")


def outbound_done(db_url: str, tables: AgentTables, expected: int) -> bool:
    """True when `expected` outbound messages reached sent (or later)."""
    states = outbound_states(db_url, tables)
    return sum(states.get(s, 0) for s in SENT) == expected


def outbound_states(db_url: str, tables: AgentTables) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            tables.query(
                "SELECT status, count(*) FROM {messages} WHERE direction = 'outbound' GROUP BY status"
            )
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def sandbox_sends_per_message(sandbox: Any, texts: list[str]) -> dict[str, int]:
    """How many times each text reached the sandbox (accepted sends)."""
    counts = dict.fromkeys(texts, 0)
    for msg in sandbox.sent_messages()["messages"]:
        body = (msg["request"].get("text") or {}).get("body")
        if body in counts:
            counts[body] += 1
    return counts


def queue_texts(
    db_url: str, tables: AgentTables, texts: list[str], customer_phone: str | None = None
) -> list[int]:
    """Queue outbound texts (message row + send job) as the API does; returns message ids.

    Without `customer_phone` each text goes to a customer of its own (no per-customer spacing).
    """
    from wacrm.outbound.schemas import TextContent
    from wacrm.outbound.service import queue_message

    async def go() -> list[int]:
        async with await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            ids = []
            for n, text in enumerate(texts):
                phone = customer_phone or f"4917{abs(hash(text)) % 10**9:09d}{n % 10}"
                cur = await conn.execute(
                    tables.query(
                        """INSERT INTO {customers} (name, phone, last_inbound_at) VALUES ('Out', %s, now())
                           ON CONFLICT (phone) WHERE phone IS NOT NULL
                           DO UPDATE SET last_inbound_at = now() RETURNING id"""
                    ),
                    (phone,),
                )
                cid = (await cur.fetchone())["id"]  # type: ignore[index]
                row = await queue_message(
                    conn,
                    tables=tables,
                    agent_id=tables.agent_id,
                    customer_id=cid,
                    content=TextContent(body=text),
                    sent_by=None,
                )
                ids.append(int(row["id"]))
            return ids

    return asyncio.run(go())


def table_count(db_url: str, tables: AgentTables, query: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(tables.query(query)).fetchone()
    return int(row[0]) if row else 0


def record(name: str, figures: dict[str, Any]) -> None:
    """Print a run's figures; with RELIABILITY_FIGURES=dir also keep them as JSON (docs quote them)."""
    import json

    text = json.dumps(figures, default=str)
    print(f"FIGURES {name}: {text}")
    folder = os.environ.get("RELIABILITY_FIGURES")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(text + "\n")
