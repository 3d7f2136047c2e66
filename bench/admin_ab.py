"""The admin pages of two source trees on one database, alternated: ratios measured in one run.

    python -m bench.admin_ab URL --variant old=/tmp/old/src --variant new=src --rounds 3 --runs 5

URL: a database made by the admin benchmark (its admin user; e.g. kept from `bench/admin_pages`'s
setup). Each round runs `bench.admin_pages URL --runs N` once per variant, in turn, in a process
whose `wacrm` is that tree's; per page the medians of the rounds' p50, p95, statements and CPU,
and the ratio of the last variant to the first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _side(url: str, src: str, runs: int) -> dict[str, dict[str, float]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(src).resolve()), str(ROOT)]))
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.admin_pages", url, "--runs", str(runs)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--variant", action="append", required=True, help="name=path/to/src")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    variants = [v.split("=", 1) for v in args.variant]
    got: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name, _ in variants}
    for _ in range(args.rounds):
        for name, src in variants:
            got[name].append(_side(args.url, src, args.runs))
    first, last = variants[0][0], variants[-1][0]
    print(f"load average {os.getloadavg()}")
    print(
        "| page | "
        + " | ".join(f"{n} p50 / p95 ms, statements, CPU web+db ms" for n, _ in variants)
        + f" | p95 {last}/{first} |"
    )
    print("|---" * (len(variants) + 2) + "|")
    for page in got[first][0]:
        cells, p95 = [], {}
        for name, _ in variants:
            rounds = [r[page] for r in got[name] if page in r]
            med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0] if k != "path"}
            p95[name] = med["p95_ms"]
            cells.append(
                f"{med['p50_ms']:.1f} / {med['p95_ms']:.1f}, {med['statements']:.0f}, "
                f"{med['py_cpu_ms']:.1f}+{med['db_cpu_ms']:.1f}"
            )
        ratio = p95[last] / p95[first] if p95[first] else float("nan")
        print(f"| {page} | " + " | ".join(cells) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
