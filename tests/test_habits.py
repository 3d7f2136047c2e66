"""The house rules that a linter does not check: modules under 400 lines, functions under 80."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "wacrm"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_over_400_lines() -> None:
    long = [
        f"{p.relative_to(SRC)}: {n} lines"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "split these modules:\n" + "\n".join(long)


def test_no_function_over_80_lines() -> None:
    long = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{p.relative_to(SRC)}:{node.lineno} {node.name}: {n} lines")
    assert not long, "split these functions:\n" + "\n".join(long)


def test_the_live_event_channel_is_spelled_once() -> None:
    """Live events go through wacrm.realtime.events (notify, notify_sql): one place for the channel."""
    spelled = [
        str(p.relative_to(SRC))
        for p in _modules()
        if "wacrm_events" in p.read_text() and p.relative_to(SRC) != Path("realtime/events.py")
    ]
    assert not spelled, "use wacrm.realtime.events in:\n" + "\n".join(spelled)
