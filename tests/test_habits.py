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


def _private_uses(path: Path) -> list[str]:
    """`from wacrm.x import _name` and `module._name` where `module` was imported from wacrm."""
    tree = ast.parse(path.read_text())
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wacrm"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(
                (a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("wacrm")
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_a_private_name_of_another() -> None:
    """A name another module needs is public: `_name` stays inside its module."""
    used = [f"{p.relative_to(SRC)}:{use}" for p in _modules() for use in _private_uses(p)]
    assert not used, "make these names public:\n" + "\n".join(used)


def test_jobs_imports_no_feature() -> None:
    """`wacrm.jobs` is infrastructure: features register their tasks with it, not the reverse."""
    allowed = ("wacrm.jobs", "wacrm.config", "wacrm.db")
    imported = []
    for p in sorted((SRC / "jobs").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            imported += [
                f"{p.relative_to(SRC)}:{node.lineno} {name}"
                for name in names
                if name.startswith("wacrm") and not name.startswith(allowed)
            ]
    assert not imported, "jobs/ imports features:\n" + "\n".join(imported)


SETTINGS_READERS = {
    "config.py",
    "app.py",  # create_app(settings): app.state.settings
    "worker.py",  # run_worker / run_all: jobs.context.current().settings
    "jobs/worker.py",
    "cli/main.py",
    "cli/common.py",  # cli_settings() for every command
    "demo.py",  # `wacrm serve --demo` points the app factory at its sandbox
}


def test_only_entry_points_read_the_settings() -> None:
    """Services get settings as arguments from an entry point, never `get_settings()` themselves."""
    readers = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "wacrm.config"
                and any(a.name == "get_settings" for a in node.names)
                and str(p.relative_to(SRC)) not in SETTINGS_READERS
            ):
                readers.append(f"{p.relative_to(SRC)}:{node.lineno}")
    assert not readers, "pass the settings (or the value) in instead:\n" + "\n".join(readers)
