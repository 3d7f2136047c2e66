"""CSV export memory: bench/export_memory.py's load and stream, in a child process (clean RSS baseline)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from bench import env
from bench.report import row

SIZES = {"full": (100_000, 2), "quick": (20_000, 2), "tiny": (200, 2)}


def child(url: str, orders: int, items: int) -> None:
    from bench.export_memory import load, stream

    tables = asyncio.run(load(url, orders, items))
    result = asyncio.run(stream(url, tables, trace=False))
    print("BENCH " + json.dumps(result))


def run(server: env.Server, size_name: str = "full") -> dict[str, Any]:
    orders, items = SIZES[size_name]
    with server.database("export") as url:
        proc = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "bench.export_run", url, str(orders), str(items)],
            env=env.crm_env(url),
            cwd=env.ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"export benchmark failed: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    r = json.loads(line[6:])
    out: dict[str, Any] = {"orders": orders, "items_per_order": items, **r}
    out["rows_exported"] = int(r["lines"]) - 1
    out["rows_per_second"] = round(out["rows_exported"] / r["seconds"], 1) if r["seconds"] else None
    out["rss_above_idle_mib"] = round(r["rss_peak_mib"] - r["rss_before_mib"], 1)
    out["rows"] = [
        row(
            f"CSV export of {orders:,} orders × {items} items: peak RSS above idle",
            out["rss_above_idle_mib"],
            "MiB",
            100,
            "<=",
            note=f"{out['rows_exported']:,} rows in {r['seconds']:.1f} s; RSS {r['rss_before_mib']:.0f} → "
            f"{r['rss_peak_mib']:.0f} MiB",
        ),
        row("CSV export rate", out["rows_per_second"], "rows/s", None, None),
    ]
    return out


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
