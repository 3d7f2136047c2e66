"""CPU per send of `wacrm worker`, A/B between source trees, interleaved in the same minutes.

    python bench/outbound_cpu.py --variant new=src --variant old=/tmp/before/src \\
        --numbers 10 --sends 1200 --workers 2 --rounds 2 [--limit 80] [--profile 4]

Each run: a fresh database, `numbers` agents with numbers in `wacrm sandbox` (limit `--limit`
per number on both sides, default 10,000/s: lifted, so the CPU is what limits), `sends` text
messages (one per customer) committed in ONE transaction while the workers already wait, then
`workers` `wacrm worker` processes run with the variant's tree first on PYTHONPATH. Figures:
rate (first to last recorded send), CPU time of the workers, of the sandbox and of the
database's backends (from /proc) divided by the sends, and the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import env  # noqa: E402
from bench.fixtures import Agent, make_agents  # noqa: E402
from bench.outbound import (  # noqa: E402
    _profile,
    _progress,
    sandbox,
    sandbox_errors,
    start_workers,
)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
            for q in procs:
                t = q.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _backends(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def _show_backends(url: str, before: dict[int, float], pids: list[int]) -> None:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid, backend_type, left(regexp_replace(query, '\\s+', ' ', 'g'), 70)"
            " FROM pg_stat_activity WHERE pid = ANY(%s)",
            (pids,),
        ).fetchall()
    for pid, kind, query in rows:
        spent = _cpu([pid]) - before.get(pid, 0.0)
        print(f"  backend {pid} {kind}: {spent:.2f} s cpu; last: {query}", flush=True)


def _queue_backends(url: str) -> set[int]:
    """Backends whose last statement was pgqueuer's (its LISTEN and query connections)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND (query ILIKE '%%pgqueuer%%' OR query ILIKE 'LISTEN%%')"
        ).fetchall()
    return {r[0] for r in rows}


_QUEUE = """
import asyncio, json, sys
from bench.fixtures import Agent
from bench.outbound import queue_messages
url, agents, per, order, bulk = json.loads(sys.argv[1])
asyncio.run(queue_messages(url, [Agent(**a) for a in agents], per, order, bulk=bulk,
                           one_transaction=True))
"""


def _queue_with(
    pythonpath: str, url: str, agents: list[Agent], per: int, args: argparse.Namespace
) -> None:
    """Queue the messages with the variant's own code (its schedule, its jobs or none)."""
    spec = json.dumps(
        [url, [dataclasses.asdict(a) for a in agents], per, args.order, args.bulk], default=str
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "-c", _QUEUE, spec],
        env={**os.environ, "PYTHONPATH": pythonpath},
        check=True,
    )


def _migrations(tree: str) -> Path | None:
    """The variant tree's migrations (its first path), when it has them."""
    folder = Path(tree.partition("@")[0].split(os.pathsep)[0]) / "wacrm" / "database" / "migrations"
    return folder if folder.is_dir() else None


def run_one(server: env.Server, name: str, tree: str, args: argparse.Namespace) -> dict[str, Any]:
    per = args.sends // args.numbers
    with server.database("obcpu", _migrations(tree)) as url:
        env.use_crm_settings(url)
        agents = make_agents(url, args.numbers, token=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE whatsapp_configuration SET messages_per_second = %s", (args.limit,)
            )
        tree, _, settings = tree.partition("@")
        variant_env = dict(kv.split("=", 1) for kv in settings.split(",") if kv)
        pythonpath = os.pathsep.join(
            [*(str(Path(t).resolve()) for t in tree.split(os.pathsep)), str(env.ROOT)]
        )
        with sandbox(url, agents, args.limit) as (sandbox_url, sb):
            worker_args = ["--concurrency", str(args.concurrency)] if args.concurrency else []
            procs = start_workers(
                url,
                sandbox_url,
                args.workers,
                args=worker_args,
                PYTHONPATH=pythonpath,
                **variant_env,
            )
            try:
                time.sleep(4)  # imports, pool, LISTEN: then idle
                for p in procs:
                    if p.popen.poll() is not None:
                        raise RuntimeError(p.tail())
                _queue_with(pythonpath, url, agents, per, args)
                load = os.getloadavg()[0]
                pg = _backends(url)
                w0, s0, d0 = _cpu([p.pid for p in procs]), _cpu([sb.pid]), _cpu(pg)
                per0 = {pid: _cpu([pid]) for pid in pg}
                q0 = _cpu([p for p in pg if p in _queue_backends(url)])
                t0 = time.monotonic()
                profile: dict[str, Any] = {}
                while time.monotonic() - t0 < 600:
                    prog = _progress(url, agents)
                    if prog["pending"] == 0:
                        break
                    if not prog["sent"] and time.monotonic() - t0 > 60:
                        raise RuntimeError(f"nothing sent in 60 s:\n{procs[0].tail()}")
                    if args.profile and not profile and prog["sent"] > args.sends // 10:
                        profile = _profile(procs[0].pid, args.profile)
                    time.sleep(0.2)
                pg_end = _backends(url)
                new_pg = [p for p in pg_end if p not in pg]
                w1, s1 = _cpu([p.pid for p in procs]), _cpu([sb.pid])
                d1 = _cpu(pg) + _cpu(new_pg)
                queue_side = _queue_backends(url)  # pgqueuer's own connections
                if args.backends:
                    _show_backends(url, per0, pg_end)
                q1 = _cpu([p for p in pg if p in queue_side]) + _cpu(
                    [p for p in new_pg if p in queue_side]
                )
                wall = time.monotonic() - t0
            finally:
                for p in procs:
                    p.stop()
            refused, _ = sandbox_errors(sandbox_url, agents)
        prog = _progress(url, agents)
        timeline = _timeline(url, agents) if args.timeline else None
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT last_value FROM pgqueuer_id_seq").fetchone()
            jobs = int(row[0]) if row else 0
    secs = (prog["last"] - prog["first"]).total_seconds() if prog["first"] else 0.0
    sent = prog["sent"]
    out = {
        "variant": name,
        "sent": sent,
        "failed": prog["failed"],
        "rate": round((sent - 1) / secs, 1) if secs else None,
        "worker_ms_per_send": round(1000 * (w1 - w0) / max(sent, 1), 2),
        "sandbox_ms_per_send": round(1000 * (s1 - s0) / max(sent, 1), 2),
        "pg_ms_per_send": round(1000 * (d1 - d0) / max(sent, 1), 2),
        "pg_queue_ms_per_send": round(1000 * (q1 - q0) / max(sent, 1), 2),
        "errors": refused,
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "load": round(load, 2),
    }
    if profile:
        out["profile"] = profile
    if timeline is not None:
        out["sent_per_second"] = timeline
    return out


def _timeline(url: str, agents: list[Agent]) -> list[int]:
    """Sends recorded in each second from the first one (where a run stalled or went slowly)."""
    from wacrm.agents.tables import AgentTables

    times = []
    with psycopg.connect(url) as conn:
        for a in agents:
            t = AgentTables(a.agent_id, a.prefix)
            rows = conn.execute(
                t.query(
                    "SELECT extract(epoch FROM status_at) FROM {messages} WHERE wamid IS NOT NULL"
                )
            ).fetchall()
            times += [float(r[0]) for r in rows]
    if not times:
        return []
    first = min(times)
    counts = [0] * (int(max(times) - first) + 1)
    for x in times:
        counts[int(x - first)] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--variant",
        action="append",
        required=True,
        help="name=path/to/src[:more/paths][@ENV=value,...]",
    )
    ap.add_argument("--numbers", type=int, default=10)
    ap.add_argument("--sends", type=int, default=1200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=0, help="wacrm worker --concurrency")
    ap.add_argument("--limit", type=int, default=10000, help="messages/s per number")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--order", choices=["interleaved", "sequential"], default="interleaved")
    ap.add_argument("--bulk", action="store_true", help="queue the messages as broadcasts")
    ap.add_argument("--timeline", action="store_true", help="sends recorded in each second")
    ap.add_argument("--backends", action="store_true", help="CPU of each database backend")
    ap.add_argument("--profile", type=int, default=0, help="py-spy seconds on worker 0")
    args = ap.parse_args()
    variants = [v.split("=", 1) for v in args.variant]
    with env.postgres() as server:
        for r in range(args.rounds):
            for name, tree in variants:
                res = run_one(server, name, tree, args)
                prof = res.pop("profile", None)
                print(json.dumps({"round": r, **res}), flush=True)
                if prof:
                    print(json.dumps(prof, indent=1), flush=True)


if __name__ == "__main__":
    main()
