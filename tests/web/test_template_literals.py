"""Every user-visible text of every template goes through gettext.

A template fails when it has text outside `{% trans %}` and `_()`: words between tags, words in
the attributes people read (title, placeholder, aria-label, alt, label, data-text-*), and string
literals with words printed by `{{ … }}` or `{% set %}`. Text without letters ("·", "←", "#") and
the product's name pass.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from wacrm.web.templating import TEMPLATES_DIR, env

NOT_TRANSLATED = {"iDesign CRM", "iDesign WhatsApp CRM", "WhatsApp"}
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label", "aria-description"}
GETTEXT = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
SAFE_CALLS = {"get", "replace", "join", "startswith", "endswith", "split", "strftime", "pop"}
MARK = "\x00"
WORD = re.compile(r"[^\W\d_]{2,}")


def _visible(text: str) -> bool:
    text = " ".join(text.replace(MARK, " ").split())
    for name in sorted(NOT_TRANSLATED, key=len, reverse=True):
        text = text.replace(name, "")
    text = re.sub(r"\S+://\S*", "", text)  # an example address
    return bool(WORD.search(text))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):  # code: commands and names, never translated
            self._skip += 1
        for name, value in attrs:
            readable = name in READ_ATTRIBUTES or name.startswith("data-text-")
            if value and readable and _visible(value):
                self.found.append(f'{name}="{value.replace(MARK, "…")}"')

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and _visible(data):
            self.found.append(" ".join(data.replace(MARK, "…").split()))


def literals(source: str) -> list[str]:
    """The untranslated texts of one template's source."""
    html: list[str] = []
    found: list[str] = []
    tokens = list(env.lex(source))
    in_trans = 0
    in_class_block = 0  # {% block main_class %}page narrow{% endblock %}: class names
    block: list[tuple[str, str]] = []
    for _line, kind, value in tokens:
        if kind == "block_begin":
            block = []
        elif kind == "block_end":
            names = [v for k, v in block if k == "name"]
            if names[:1] == ["trans"]:
                in_trans += 1
            elif names[:1] == ["endtrans"]:
                in_trans -= 1
            elif names[:1] == ["set"]:
                found.extend(_expression_literals(block))
            elif names[:1] == ["block"] and names[1].endswith("_class"):
                in_class_block += 1
            elif names[:1] == ["endblock"] and in_class_block:
                in_class_block -= 1
            html.append(_mark(html))
        elif kind == "variable_begin":
            block = []
        elif kind == "variable_end":
            if not in_trans:
                found.extend(_expression_literals(block))
            html.append(_mark(html))
        elif kind == "data":
            html.append(MARK if in_trans or in_class_block else value)
        elif kind not in ("whitespace", "comment_begin", "comment", "comment_end"):
            block.append((kind, value))
    collector = _Collector()
    collector.feed("".join(html))
    collector.close()
    return collector.found + found


def _mark(html: list[str]) -> str:
    """What stands for a Jinja tag: a space inside an HTML tag (`<details{% if x %} open{% endif %}>`
    stays a tag with attributes), else a marker."""
    text = "".join(html[-40:])
    return " " if text.rfind("<") > text.rfind(">") else MARK


def _expression_literals(block: list[tuple[str, str]]) -> list[str]:
    """String literals with words in an expression, outside gettext calls and subscripts."""
    found = []
    depth_in_gettext: list[int] = []
    depth = 0
    for index, (kind, value) in enumerate(block):
        previous = block[index - 1] if index else ("", "")
        before = block[index - 2] if index > 1 else ("", "")
        if kind == "operator" and value in "([":
            depth += 1
            if value == "(" and previous[0] == "name" and previous[1] in GETTEXT:
                depth_in_gettext.append(depth)
        elif kind == "operator" and value in ")]":
            if depth_in_gettext and depth_in_gettext[-1] == depth:
                depth_in_gettext.pop()
            depth -= 1
        elif kind == "string" and not depth_in_gettext:
            if previous == ("operator", "["):
                continue  # a key: page["items"]
            if previous == ("operator", "(") and before[0] == "name" and before[1] in SAFE_CALLS:
                continue
            if (
                previous[0] == "operator"
                and previous[1] in ("==", "!=", "in")
                or (index + 1 < len(block) and block[index + 1][1] in ("==", "!=", "in"))
            ):
                continue  # compared, not shown
            text = value[1:-1]
            if _visible(text) and (re.search(r"[A-Z]|\s", text) or text in ("s", "es")):
                found.append(value)
    return found


TEMPLATES = sorted(p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.html"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_has_no_untranslated_text(name: str) -> None:
    source = (Path(TEMPLATES_DIR) / name).read_text(encoding="utf-8")
    assert literals(source) == [], f"{name}: wrap these in _() or {{% trans %}}"


def test_the_check_finds_untranslated_text() -> None:
    assert literals("<p>Hello {{ name }}</p>") == ["Hello …"]
    assert literals('<input placeholder="Search here">') == ['placeholder="Search here"']
    assert literals("{{ 'Photo' if x else y }}") == ["'Photo'"]
    assert literals("{{ n }} item{{ 's' if n != 1 }}") == ["… item…"]
    assert literals('{% set label = "Customer " ~ id %}') == ['"Customer "']
    assert literals("<p>{{ _('Hello %(n)s', n=name) }}</p>") == []
    assert literals("<p>{% trans %}Hello {{ name }}{% endtrans %}</p>") == []
    assert literals('{{ page["items"] }} {% if s == "open" %}·{% endif %} ←') == []
    assert literals("<script>var a = 'x y';</script><b>iDesign CRM</b>") == []
