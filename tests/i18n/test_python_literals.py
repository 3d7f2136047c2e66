"""Messages made in Python that reach pages go through gettext (a Text, or `_()` where shown).

The template test (tests/web/test_template_literals.py) sees only templates; a service's error is
made in Python and shown by a page as `str(exc)`. This test fails on English that bypasses the
catalogs on its way to a page:
- a refused request (an AppError subclass, HTTPException or, in web/, a ValueError) made with a
  plain string or an f-string instead of a `Text`;
- a form's field error set as a plain string (`errors["field"] = "..."`).
Left out: the JSON API's routers (their `detail` is English by design), the WhatsApp sandbox (a
fake Meta, read by tests and tools), the webhook endpoint's refusals (Meta reads them), the
command line, and Starlette's own phrases that the error page replaces ("Not Found").
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from wacrm.errors import AppError

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "wacrm"
NOT_PAGES = ("wacrm.sandbox", "wacrm.inbound.endpoint", "wacrm.__main__")
STARLETTE_PHRASES = {"Not Found", "Method Not Allowed"}
WORDS = re.compile(r"[^\W\d_]{2,}\s(.*\s)?[^\W\d_]{2,}")  # two words at least: not a code


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        api_only = name.endswith("router") and ".web." not in name  # the JSON API: English
        if name.startswith(NOT_PAGES) or name.endswith(".cli") or api_only:
            continue
        out.append((name, path))
    return out


def _english(node: ast.expr | None) -> bool:
    """A string literal with words, or an f-string (its text cannot be a msgid)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and WORDS.search(str(v.value)) for v in node.values)
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(WORDS.search(node.value))
        and node.value not in STARLETTE_PHRASES
    )


def _callee(module: object, func: ast.expr) -> object:
    if isinstance(func, ast.Name):
        return getattr(module, func.id, None)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return getattr(getattr(module, func.value.id, None), func.attr, None)
    return None


def _refusal(module_name: str, callee: object, func: ast.expr) -> bool:
    if isinstance(callee, type) and issubclass(callee, AppError):
        return True
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name == "HTTPException" or (".web." in module_name and name == "ValueError")


def untranslated(module_name: str, path: Path) -> list[str]:
    """The places in one module where English reaches a page without gettext."""
    module = importlib.import_module(module_name)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and _refusal(
            module_name, _callee(module, node.func), node.func
        ):
            message = node.args[0] if node.args else None
            keywords = [k.value for k in node.keywords if k.arg in ("message", "detail")]
            for arg in [message, *keywords]:
                if _english(arg):
                    found.append(f"{where}: {ast.unparse(arg)[:80]}")
        elif isinstance(node, ast.Assign) and _english(node.value):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and ast.unparse(target.value).endswith(
                    "errors"
                ):
                    found.append(f"{where}: {ast.unparse(node.value)[:80]}")
    return sorted(found, key=lambda line: int(line.split(":")[1]))


def test_messages_made_in_python_go_through_gettext() -> None:
    found = [line for name, path in _modules() for line in untranslated(name, path)]
    assert not found, "English that reaches pages without gettext (use Text(...)):\n" + "\n".join(
        found
    )


def test_the_check_sees_an_untranslated_error(tmp_path: Path) -> None:
    """The check itself fails on a plain string and an f-string, and passes a Text."""
    import sys

    (tmp_path / "wacrm_probe_module.py").write_text(
        "from wacrm.errors import AppError\n"
        "from wacrm.i18n.text import Text\n"
        "def f(n):\n"
        "    errors = {}\n"
        "    errors['name'] = 'choose a name'\n"
        "    raise AppError(f'no order with id {n}')\n"
        "def g():\n"
        "    raise AppError(Text('no order with id {n}', n=1))\n"
        "def h():\n"
        "    raise AppError('no such thing here')\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        found = untranslated("wacrm_probe_module", tmp_path / "wacrm_probe_module.py")
    finally:
        sys.path.remove(str(tmp_path))
    assert [line.split(": ", 1)[1] for line in found] == [
        "'choose a name'",
        "f'no order with id {n}'",
        "'no such thing here'",
    ]
