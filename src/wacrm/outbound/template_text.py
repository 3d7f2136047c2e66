"""A WhatsApp template's body text: its parameters, what each is called, the text with them filled."""

from __future__ import annotations

import re
from typing import Any

from psycopg import AsyncConnection

PARAM = re.compile(r"\{\{\s*(\d+)\s*\}\}")
CONTEXT_WORDS = 3


def body_text(components: list[dict[str, Any]] | None) -> str:
    body = next((c for c in components or [] if str(c.get("type", "")).upper() == "BODY"), None)
    return str(body.get("text") or "") if body else ""


def param_count(text: str) -> int:
    """How many body parameters the text takes ({{1}} … {{n}}: the highest number)."""
    numbers = [int(n) for n in PARAM.findall(text)]
    return max(numbers) if numbers else 0


def param_labels(text: str) -> list[str]:
    """Each parameter named by the words around it: 'Hi {{1}}, your order' → 'Hi …, your order'."""
    labels = []
    for number in range(1, param_count(text) + 1):
        match = re.search(r"\{\{\s*" + str(number) + r"\s*\}\}", text)
        if match is None:
            labels.append("")
            continue
        before = PARAM.sub("…", text[: match.start()])
        after = PARAM.sub("…", text[match.end() :])
        head = " ".join(before.split()[-CONTEXT_WORDS:])
        tail = " ".join(after.split()[:CONTEXT_WORDS])
        gap_before = " " if head and before[-1:].isspace() else ""
        gap_after = " " if tail and after[:1].isspace() else ""
        labels.append(f"{head}{gap_before}___{gap_after}{tail}")
    return labels


def fill(text: str, params: list[str]) -> str:
    """The text the customer reads: {{n}} replaced by the n-th parameter (kept when missing)."""

    def value(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return params[index] if 0 <= index < len(params) else match.group(0)

    return PARAM.sub(value, text)


async def find(
    conn: AsyncConnection[Any], *, agent_id: int, name: str, language: str
) -> dict[str, Any] | None:
    """The synced template (name, language) of the agent's number, else None."""
    cur = await conn.execute(
        """SELECT t.name, t.language, t.status, t.components
           FROM whatsapp_templates t
           JOIN whatsapp_configuration w ON w.id = t.config_id
           JOIN agents a ON a.user_id = w.user_id
           WHERE a.id = %s AND t.name = %s AND t.language = %s
           ORDER BY w.is_active DESC LIMIT 1""",
        (agent_id, name, language),
    )
    return await cur.fetchone()
