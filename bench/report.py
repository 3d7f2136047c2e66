"""Result rows, `bench/results/<date>.json` and the table in docs/performance.md (between markers)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
REPRODUCE = {
    "ingest": "python -m bench.run --only ingest",
    "inbox": "python -m bench.run --only inbox",
    "agents": "python -m bench.run --only agents",
    "outbound": "python -m bench.run --only outbound",
    "export": "python -m bench.run --only export",
    "admin": "python -m bench.run --only admin",
    "total": "make bench",
}
DOC_HEAD = """# Performance

Figures from `make bench` (`python -m bench.run`), measured against real PostgreSQL with the
durability a user gets by default (no `synchronous_commit=off`, `fsync=off` or unlogged tables).
The table below is rewritten by every run; the prose around it is kept.

"""


def row(
    what: str, figure: Any, unit: str, target: Any, op: str | None, note: str = ""
) -> dict[str, Any]:
    """One line of the results table; `met`/`ratio` computed against the target (`<=`, `>=`, `==`)."""
    met: bool | None = None
    ratio: float | None = None
    if op in ("<=", ">=") and isinstance(figure, int | float) and target:
        met = figure <= target if op == "<=" else figure >= target
        ratio = round(figure / target, 2)
    elif op == "==":
        met = figure == target
    return {
        "what": what,
        "figure": figure,
        "unit": unit,
        "target": target,
        "op": op,
        "ratio": ratio,
        "met": met,
        "note": note,
    }


def write_json(result: dict[str, Any], folder: Path = RESULTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    path = folder / f"{stamp}.json"
    if path.exists():
        path = folder / f"{time.strftime('%Y-%m-%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|")


def _run_line(result: dict[str, Any]) -> str:
    m, pg = result["machine"], result.get("postgres", {})
    return (
        f"Run of {result['started_at']} ({'quick' if result['quick'] else 'full'} sizes, "
        f"{result['seconds']:.0f} s): {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"load average at start {m['load_average_at_start']}; {pg.get('postgresql', '?').split(',')[0]} "
        f"(synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}); "
        f"Python {m['python']}; commit {m['git_commit'][:12]}. Conditions: {result.get('conditions', '')}"
    )


def _rows(name: str, bench: dict[str, Any]) -> list[str]:
    if "error" in bench:
        return [
            f"| {name} | not run | – | – | – | `{REPRODUCE.get(name, '')}` | {_cell(bench['error'])} |"
        ]
    lines = []
    for r in bench.get("rows", []):
        figure = f"{_cell(r['figure'])} {r['unit']}".strip()
        target = f"{r['op'] or ''} {_cell(r['target'])} {r['unit'] if r['op'] in ('<=', '>=') else ''}".strip()
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        lines.append(
            f"| {_cell(r['what'])} | {figure} | {target if r['target'] is not None else '–'} | "
            f"{_cell(r['ratio'])} | {met} | `{REPRODUCE.get(name, '')}` | {_cell(r['note'])} |"
        )
    return lines


TABLE_HEAD = [
    "| what | figure | target | ratio to target | met | how to reproduce | notes |",
    "|---|---|---|---|---|---|---|",
]


def section(name: str, bench: dict[str, Any], result: dict[str, Any]) -> str:
    """One benchmark's part of the docs block, between its own markers."""
    return "\n".join(
        [
            f"<!-- bench:{name}:begin -->",
            f"**{name}**: {_run_line(result)}",
            "",
            *TABLE_HEAD,
            *_rows(name, bench),
            f"<!-- bench:{name}:end -->",
        ]
    )


def table(result: dict[str, Any]) -> str:
    """The docs block for every benchmark of one run."""
    return "\n\n".join(section(name, b, result) for name, b in result["benchmarks"].items())


def update_doc(result: dict[str, Any], doc: Path = DOC) -> None:
    """Replace, between the markers, the sections of the benchmarks this run measured; keep the
    other benchmarks' sections (from earlier `--only` runs) and all prose outside the markers."""
    text = doc.read_text() if doc.exists() else DOC_HEAD
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + "\n\n## Latest results\n\n" + BEGIN + "\n" + END + "\n"
    head, _, rest = text.partition(BEGIN)
    block, _, tail = rest.partition(END)
    for name, bench in result["benchmarks"].items():
        begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
        new = section(name, bench, result)
        if begin in block and end in block:
            before, _, after = block.partition(begin)
            block = before + new + after.partition(end)[2]
        else:
            block = block.rstrip("\n") + "\n\n" + new + "\n"
    doc.write_text(head + BEGIN + "\n" + block.strip("\n") + "\n" + END + tail)
