"""Webhooks spread over many agents (each its own number) vs the same load to a few, one database.

The CRM (`wacrm serve`, deferred processing) and one journal processor (`wacrm webhooks process`)
run on the database of the agents benchmark at 1,000 agents. The same number of webhooks is sent
at the same constant rate, first to `few` agents, then round-robin over all of them; each case's
figure is the webhooks processed into the inbox per second, from the first request until the
journal has nothing waiting. Meanwhile an inbox reader asks for the inbox of a random agent at a
steady pace (the web pool's connections then touch many agents' tables too), and the memory of the
database's client backends (USS, this machine's PostgreSQL) is sampled every second. Every message
answered 200 must be stored; those that were not are delivered again (as Meta does), then every
message must be stored exactly once and the journal must hold no failed row.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import httpx
import psutil
import psycopg

from bench import env
from bench.fixtures import Agent, build_payloads, journal_waiting, redeliver, stored
from bench.load import open_loop
from bench.report import row


class BackendMemory:
    """The summed USS of the database's client backends, sampled every second in a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.peak_mib = 0.0
        self.peak_backends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[float, int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            pids = [
                int(r[0])
                for r in conn.execute(
                    """SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                       AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
                ).fetchall()
            ]
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_full_info().uss
            except (psutil.Error, OSError):
                continue
        return total / 2**20, len(pids)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            mib, n = self.sample()
            if mib > self.peak_mib:
                self.peak_mib, self.peak_backends = mib, n

    def __enter__(self) -> BackendMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        mib, n = self.sample()
        if mib > self.peak_mib:
            self.peak_mib, self.peak_backends = mib, n


def _inbox_reader(base: str, agents: list[Agent], rate: float, stop: threading.Event) -> int:
    """GET the conversations of a random agent `rate` times a second until `stop`; answers 200."""
    rnd = random.Random(5)
    ok = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.wait(1.0 / rate):
            agent = rnd.choice(agents)
            r = client.get(
                "/api/v1/conversations", headers={"Authorization": f"Bearer {agent.token}"}
            )
            ok += r.status_code == 200
    return ok


def _wait_processed(url: str, started: float) -> None:
    while journal_waiting(url):
        if time.monotonic() - started > 900:
            raise RuntimeError("the journal processor did not catch up")
        time.sleep(0.05)


def _journal_counts(url: str, first_id: int) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM webhook_journal WHERE id > %s GROUP BY status",
            (first_id,),
        ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def _case(
    url: str, base: str, agents: list[Agent], readers: list[Agent], size: dict[str, Any], seed: int
) -> dict[str, Any]:
    payloads = build_payloads(agents, size["spread_webhooks"], seed=seed)
    with psycopg.connect(url) as conn:
        top = conn.execute("SELECT coalesce(max(id), 0) FROM webhook_journal").fetchone()
    first_id = int(top[0]) if top else 0
    stop = threading.Event()
    reads: list[int] = []
    reader = threading.Thread(
        target=lambda: reads.append(_inbox_reader(base, readers, size["spread_reads"], stop))
    )
    with BackendMemory(url) as memory:
        reader.start()
        started = time.monotonic()
        sent = open_loop(f"{base}/webhooks/whatsapp", payloads, rate=size["spread_rate"])
        intake_s = time.monotonic() - started
        _wait_processed(url, started)
        total_s = time.monotonic() - started
        stop.set()
        reader.join()
    # a webhook not answered 200 is delivered again, as Meta does; then each exactly once
    found, _ = stored(url, agents, payloads)
    missing = [p for p in payloads if p.wamid not in found]
    redelivered = redeliver(base, missing)
    _wait_processed(url, time.monotonic())
    found, duplicates = stored(url, agents, payloads)
    counts = _journal_counts(url, first_id)
    return {
        "agents": len(agents),
        "webhooks": len(payloads),
        "answered_200": sent["ok"],
        "offered_per_second": size["spread_rate"],
        "intake_s": round(intake_s, 2),
        "drained_after_s": round(total_s - intake_s, 2),
        "processed_per_second": round(len(payloads) / total_s, 1),
        "webhook_p99_ms": sent["p99_ms"],
        "journal": counts,
        # every 200 was stored before re-delivery, and in the end each webhook exactly once
        "exact": len(payloads) - len(missing) >= sent["ok"]
        and found == {p.wamid for p in payloads}
        and duplicates == 0,
        "stored_before_redelivery": len(payloads) - len(missing),
        "redelivered": len(missing),
        "redelivered_200": redelivered,
        "stored": len(found),
        "duplicates": duplicates,
        "inbox_reads_200": reads[0] if reads else 0,
        "backend_memory_peak_mib": round(memory.peak_mib, 1),
        "backends_at_peak": memory.peak_backends,
    }


def run_spread(url: str, agents: list[Agent], size: dict[str, Any]) -> dict[str, Any]:
    """Few agents, then all of them, with the same load (see the module's docstring)."""
    few = agents[: size["few"]]
    crm, base = env.start_crm(url)
    with crm, env.start_processor(url):
        open_loop(f"{base}/webhooks/whatsapp", build_payloads(few, 100, seed=90), rate=100)
        out = {
            "few": _case(url, base, few, few, size, seed=91),
            "many": _case(url, base, agents, agents, size, seed=92),
        }
    out["size_reads"] = size["spread_reads"]
    out["ratio"] = round(
        out["many"]["processed_per_second"] / out["few"]["processed_per_second"], 2
    )
    return out


def spread_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    few, many = s["few"], s["many"]
    exact = (
        few["exact"]
        and many["exact"]
        and not (few["journal"].get("failed") or many["journal"].get("failed"))
    )
    return [
        row(
            f"Webhooks spread over {many['agents']} agents (one number each) vs {few['agents']}: "
            "processed into the inbox per second, ratio",
            s["ratio"],
            "",
            0.8,
            ">=",
            note=f"{many['webhooks']} webhooks at {many['offered_per_second']}/s each case: "
            f"{few['agents']} agents {few['processed_per_second']}/s (drained {few['drained_after_s']} s "
            f"after intake), {many['agents']} agents {many['processed_per_second']}/s (drained "
            f"{many['drained_after_s']} s after); webhook p99 {few['webhook_p99_ms']} → "
            f"{many['webhook_p99_ms']} ms; an inbox read of a random agent "
            f"{s['size_reads']}/s meanwhile",
        ),
        row(
            "Webhooks spread: every message stored once, no journal row failed",
            "exact" if exact else "not exact",
            "",
            "exact",
            "==",
            note=f"stored {few['stored']} + {many['stored']} of {few['webhooks']} + {many['webhooks']} "
            f"({few['redelivered']} + {many['redelivered']} not answered 200 in time, delivered "
            f"again), "
            f"duplicates {few['duplicates'] + many['duplicates']}; journal {few['journal']} / {many['journal']}",
        ),
        row(
            f"PostgreSQL client backends' memory at full load, {many['agents']} agents (USS, peak)",
            many["backend_memory_peak_mib"],
            "MiB",
            1024,
            "<=",
            note=f"{many['backends_at_peak']} backends at the peak (web pool, journal processor, "
            f"bench); with {few['agents']} agents {few['backend_memory_peak_mib']} MiB",
        ),
    ]
