"""`make bench` / `python -m bench.run [--quick] [--only NAME ...]`: every benchmark, results, docs table.

Each benchmark gets a fresh database `wacrm_bench_<ts>_<name>` on BENCH_DATABASE_URL /
DATABASE_URL (else the machine's server on 127.0.0.1:5432, else an embedded PostgreSQL), dropped
when it ends. Results go to bench/results/<date>.json and the table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import env, report

Bench = Callable[[env.Server, str], dict[str, Any]]


def _ingest(server: env.Server, size: str) -> dict[str, Any]:
    from bench import ingest

    result = ingest.run(server, size)
    result["rows"] = ingest.summary_rows(result)
    return result


def _inbox(server: env.Server, size: str) -> dict[str, Any]:
    from bench import inbox_scale

    return inbox_scale.run(server, size)


def _agents(server: env.Server, size: str) -> dict[str, Any]:
    from bench import agents_scale

    return agents_scale.run(server, size)


def _outbound(server: env.Server, size: str) -> dict[str, Any]:
    from bench import outbound

    return outbound.run(server, size)


def _export(server: env.Server, size: str) -> dict[str, Any]:
    from bench import export_run

    return export_run.run(server, size)


def _reach(server: env.Server, size: str) -> dict[str, Any]:
    from bench import broadcast, reach

    out = reach.run(server, size)
    sent = broadcast.run(server, size)
    return {"import": out, "broadcast": sent, "rows": out["rows"] + sent["rows"]}


def _team(server: env.Server, size: str) -> dict[str, Any]:
    from bench import team_inbox

    return team_inbox.run(server, size)


def _admin(server: env.Server, size: str) -> dict[str, Any]:
    from bench import admin_pages

    return admin_pages.run(server, size)


BENCHMARKS: dict[str, Bench] = {
    "ingest": _ingest,
    "inbox": _inbox,
    "agents": _agents,
    "outbound": _outbound,
    "export": _export,
    "reach": _reach,
    "admin": _admin,
    "team": _team,
}


def run_all(
    names: list[str],
    size: str,
    *,
    write: bool = True,
    conditions: str = "",
    server: env.Server | None = None,
) -> dict[str, Any]:
    """Run the named benchmarks at `size` ("full", "quick" or "tiny"); the result dict."""
    started = time.time()
    result: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "quick": size != "full",
        "size": size,
        "machine": env.machine(),
        "conditions": conditions,
        "benchmarks": {},
    }
    with contextlib.nullcontext(server) if server else env.postgres() as server:
        result["postgres"] = env.server_info(server.url)
        result["postgres"]["embedded"] = server.handle is not None
        for name in names:
            t0 = time.perf_counter()
            print(f"[bench] {name} ({size}) ...", flush=True)
            try:
                out = BENCHMARKS[name](server, size)
            except Exception as exc:  # a failed benchmark is reported, the others still run
                traceback.print_exc()
                out = {"error": f"{type(exc).__name__}: {exc}"}
            out["seconds"] = round(time.perf_counter() - t0, 1)
            result["benchmarks"][name] = out
            for r in out.get("rows", []):
                met = {True: "met", False: "MISSED", None: ""}[r["met"]]
                print(
                    f"  {r['what']}: {r['figure']} {r['unit']} (target {r['op'] or ''} {r['target']}) {met}",
                    flush=True,
                )
            print(f"[bench] {name} done in {out['seconds']} s", flush=True)
        server.drop_seeds()  # the seeded templates shared by benchmarks
    result["seconds"] = round(time.time() - started, 1)
    if set(names) == set(BENCHMARKS):
        result["benchmarks"]["total"] = _total(result)
        print(f"[bench] every benchmark: {result['seconds']} s", flush=True)
    if write:
        path = report.write_json(result)
        report.update_doc(result)
        print(f"[bench] wrote {path} and docs/performance.md", flush=True)
    return result


def _total(result: dict[str, Any]) -> dict[str, Any]:
    """The whole run's duration against its goal (a run of every benchmark only)."""
    parts = ", ".join(
        f"{name} {b['seconds']:.0f} s" for name, b in result["benchmarks"].items() if "seconds" in b
    )
    target = 900 if result["size"] == "full" else None
    line = report.row(
        f"`make bench`, every benchmark ({result['size']} sizes)",
        result["seconds"],
        "s",
        target,
        "<=" if target else None,
        note=parts,
    )
    return {"rows": [line], "seconds": result["seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--conditions", default="", help="free text recorded with the results")
    parser.add_argument("--no-write", action="store_true", help="print only; no JSON, no docs")
    args = parser.parse_args(argv)
    result = run_all(
        args.only or list(BENCHMARKS),
        "quick" if args.quick else "full",
        write=not args.no_write,
        conditions=args.conditions,
    )
    failed = [n for n, b in result["benchmarks"].items() if "error" in b]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
