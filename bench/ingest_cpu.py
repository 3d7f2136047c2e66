"""CPU per webhook of the journal processor, A/B between source trees, interleaved in the same minutes.

    python bench/ingest_cpu.py --variant new=src --variant old=/tmp/before/src \\
        --agents 10 --webhooks 20000 --rounds 2 [--profile 4] [--live 8 --web 1]

Each run: a fresh database with `agents` agents and numbers, then `wacrm webhooks process` (the
variant's tree first on PYTHONPATH) is started and left idle; `webhooks` distinct payloads
(bench.fixtures: ~85% text, ~5% media, ~10% statuses, 5,000 customers) are journaled as
'received' in ONE transaction, and the processor drains them. Figures: rate (commit of the
journal rows to the last one processed), CPU time of the processor and of the database's backends
(from /proc) per webhook, and the load average.

`--live SECONDS`: the benchmark's configuration instead (`bench/ingest.py`): `wacrm serve` with
`--web` processes and a processor beside it, wrk (32 connections) for SECONDS; webhooks
journaled and processed per second, and the CPU per journaled webhook of the web processes, of
the processor, of wrk and of the database's backends (by the process they serve).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import env  # noqa: E402
from bench.fixtures import Payload, build_payloads, make_agents  # noqa: E402
from bench.outbound import _profile  # noqa: E402
from bench.outbound_cpu import _backends, _cpu  # noqa: E402


async def journal_all(url: str, payloads: list[Payload], chunk: int = 500) -> None:
    """Journal `payloads` as 'received' in one transaction (one NOTIFY at its commit)."""
    import orjson

    from wacrm.inbound.journal import Webhook, journal_received

    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        for i in range(0, len(payloads), chunk):
            hooks = []
            for p in payloads[i : i + chunk]:
                data = orjson.loads(p.body)
                pid = data["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
                hooks.append(Webhook(p.body, data, pid))
            await journal_received(conn, hooks)


def _waiting(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM webhook_journal WHERE status = 'received'"
        ).fetchone()
    return int(row[0]) if row else 0


def _span(url: str) -> tuple[float, int]:
    """(seconds from the first processed row's receipt to the last one's processing, processed)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(processed_at) - min(received_at)), count(*)"
            " FROM webhook_journal WHERE status = 'processed'"
        ).fetchone()
    assert row is not None
    return float(row[0] or 0.0), int(row[1])


def _migrations(tree: str) -> Path | None:
    """The variant tree's migrations (its first path), when it has them."""
    folder = Path(tree.partition("@")[0].split(os.pathsep)[0]) / "wacrm" / "database" / "migrations"
    return folder if folder.is_dir() else None


def run_one(server: env.Server, name: str, tree: str, args: argparse.Namespace) -> dict[str, Any]:
    with server.database("incpu", _migrations(tree)) as url:
        env.use_crm_settings(url)
        agents = make_agents(url, args.agents, token=False)
        payloads = build_payloads(agents, args.webhooks, seed=args.seed)
        tree, _, settings = tree.partition("@")
        variant_env = dict(kv.split("=", 1) for kv in settings.split(",") if kv)
        pythonpath = os.pathsep.join(
            [*(str(Path(t).resolve()) for t in tree.split(os.pathsep)), str(env.ROOT)]
        )
        proc = env.Process(
            [*env.WACRM, "webhooks", "process"],
            env.crm_env(url, PYTHONPATH=pythonpath, **variant_env),
            f"processor-{name}",
        )
        with proc:
            time.sleep(3)  # imports, pool, LISTEN: then idle
            if proc.popen.poll() is not None:
                raise RuntimeError(proc.tail())
            pg = _backends(url)
            p0, d0 = _cpu([proc.pid]), _cpu(pg)
            load = os.getloadavg()[0]
            t0 = time.monotonic()
            asyncio.run(journal_all(url, payloads))
            t_journaled = time.monotonic()
            profile: dict[str, Any] = {}
            while _waiting(url):
                if time.monotonic() - t0 > 600:
                    raise RuntimeError(f"not drained in 600 s:\n{proc.tail()}")
                if args.profile and not profile:
                    profile = _profile(proc.pid, args.profile)
                time.sleep(0.05)
            wall = time.monotonic() - t_journaled
            # the journaling connection is closed by now: every backend left is the processor's
            p1, d1 = _cpu([proc.pid]), _cpu(pg) + _cpu([p for p in _backends(url) if p not in pg])
            load_end = os.getloadavg()[0]
        span, processed = _span(url)
    n = len(payloads)
    return {
        "variant": name,
        "webhooks": n,
        "processed": processed,
        "rate_after_commit": round(n / wall, 1),
        "span_s": round(span, 2),
        "processor_ms_per_webhook": round(1000 * (p1 - p0) / n, 3),
        "pg_ms_per_webhook": round(1000 * (d1 - d0) / n, 3),
        "load": [round(load, 2), round(load_end, 2)],
        **({"profile": profile} if profile else {}),
    }


def _ports(pids: list[int]) -> set[int]:
    ports: set[int] = set()
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                ports.update(c.laddr.port for c in q.net_connections("tcp") if c.laddr)
        except psutil.Error:
            pass
    return ports


def _backends_by_client(url: str, ports: set[int]) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for pid, port in rows if port in ports]


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'processed') FROM webhook_journal"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_live(server: env.Server, name: str, tree: str, args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark's wrk phase with CPU accounting (see the module's docstring)."""
    from bench.load import run_wrk

    with server.database("inlive", _migrations(tree)) as url:
        env.use_crm_settings(url)
        agents = make_agents(url, args.agents, token=False)
        payloads = build_payloads(agents, 2000 + int(args.max_rate * args.live), seed=args.seed)
        tree, _, settings = tree.partition("@")
        variant_env = dict(kv.split("=", 1) for kv in settings.split(",") if kv)
        pythonpath = os.pathsep.join(
            [*(str(Path(t).resolve()) for t in tree.split(os.pathsep)), str(env.ROOT)]
        )
        port = env.free_port()
        base = f"http://127.0.0.1:{port}"
        web = env.Process(
            [*env.WACRM, "serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", str(args.web)],
            env.crm_env(url, PYTHONPATH=pythonpath, WACRM_PUBLIC_URL=base, **variant_env),
            f"serve-{name}",
        )
        proc = env.Process(
            [*env.WACRM, "webhooks", "process"],
            env.crm_env(url, PYTHONPATH=pythonpath, **variant_env),
            f"processor-{name}",
        )
        with web, proc:
            env.wait_http(web, f"{base}/healthz")
            run_wrk(f"{base}/webhooks/whatsapp", payloads[:2000], seconds=1)  # warm-up
            env.wait_http(web, f"{base}/healthz")
            time.sleep(1)
            while _waiting(url):
                time.sleep(0.2)
            web_be = _backends_by_client(url, _ports([web.pid]))
            proc_be = _backends_by_client(url, _ports([proc.pid]))
            web_pids = [web.pid]
            c0 = {
                "web": _cpu(web_pids),
                "processor": _cpu([proc.pid]),
                "pg_web": _cpu(web_be),
                "pg_processor": _cpu(proc_be),
                "wrk": sum(os.times()[2:4]),
            }
            j0, p0 = _counts(url)
            load = os.getloadavg()[0]
            t0 = time.time()
            profile: dict[str, Any] = {}
            if args.profile:
                import threading

                target = proc.pid if args.profile_processor else web.pid
                th = threading.Thread(
                    target=lambda: profile.update(_profile(target, args.profile)), daemon=True
                )
                th.start()
            wrk = run_wrk(f"{base}/webhooks/whatsapp", payloads[2000:], seconds=args.live)
            c1 = {
                "web": _cpu(web_pids),
                "processor": _cpu([proc.pid]),
                "pg_web": _cpu(web_be),
                "pg_processor": _cpu(proc_be),
                "wrk": sum(os.times()[2:4]),
            }
            j1, p1 = _counts(url)
            backlog = j1 - p1
            while _waiting(url):
                time.sleep(0.1)
            with psycopg.connect(url) as conn:
                row = conn.execute(
                    "SELECT extract(epoch FROM max(processed_at)) FROM webhook_journal"
                ).fetchone()
            last = float(row[0]) if row and row[0] else time.time()
            c2 = {"processor": _cpu([proc.pid]), "pg_processor": _cpu(proc_be)}
    n = j1 - j0
    per = {k: round(1000 * (c1[k] - c0[k]) / max(n, 1), 3) for k in c0}
    drain = {k: round(1000 * (c2[k] - c0[k]) / max(n, 1), 3) for k in c2}
    return {
        "variant": name,
        "web": args.web,
        "journaled_per_s": round(n / wrk["seconds"], 1),
        "processed_in_wrk_per_s": round((p1 - p0) / wrk["seconds"], 1),
        "processed_per_s": round(n / max(1e-6, last - t0), 1),
        "backlog": backlog,
        "wrk_p50_ms": wrk["p50_ms"],
        "cpu_ms_per_webhook_in_wrk": per,
        "cpu_ms_per_webhook_with_drain": drain,
        "cpu_share_in_wrk": {k: round((c1[k] - c0[k]) / wrk["seconds"], 2) for k in c0},
        "load": round(load, 2),
        **({"profile": profile} if profile else {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", required=True, help="name=path/to/src[@ENV=v]")
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--webhooks", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", type=int, default=0, help="py-spy seconds on the processor")
    ap.add_argument("--live", type=float, default=0, help="wrk seconds (the benchmark's setup)")
    ap.add_argument("--web", type=int, default=1, help="web processes (with --live)")
    ap.add_argument("--max-rate", type=int, default=8000, help="payloads per wrk second")
    ap.add_argument("--profile-processor", action="store_true", help="--live: py-spy the processor")
    args = ap.parse_args()
    variants = [v.split("=", 1) for v in args.variant]
    with env.postgres() as server:
        for r in range(args.rounds):
            for name, tree in variants:
                one = run_live if args.live else run_one
                res = one(server, name, tree, args)
                prof = res.pop("profile", None)
                print(json.dumps({"round": r, **res}), flush=True)
                if prof:
                    print(json.dumps(prof, indent=1), flush=True)


if __name__ == "__main__":
    main()
