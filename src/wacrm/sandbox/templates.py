"""The approved message templates every sandbox WABA has (Meta's `message_templates` shape)."""

from __future__ import annotations

import re
from typing import Any

TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "hello_world",
        "language": "en_US",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "category": "UTILITY",
        "id": "1192339204654487",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {
                "type": "BODY",
                "text": "Welcome and congratulations!! This message demonstrates your "
                "ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. "
                "Thank you for taking the time to test with us.",
            },
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
        ],
    },
    {
        "name": "order_update",
        "language": "en_US",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "category": "UTILITY",
        "id": "1301846397452104",
        "components": [
            {
                "type": "BODY",
                "text": "Your order {{1}} is now {{2}}. Reply to this message if you "
                "have any questions.",
                "example": {"body_text": [["#1042", "shipped"]]},
            },
            {"type": "FOOTER", "text": "iDesign Shop"},
        ],
    },
    {
        "name": "order_confirmation",
        "language": "en_US",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "category": "UTILITY",
        "id": "1301846397452105",
        "components": [
            {
                "type": "HEADER",
                "format": "TEXT",
                "text": "Order {{1}}",
                "example": {"header_text": ["#1042"]},
            },
            {
                "type": "BODY",
                "text": "Hi {{1}}, we received your order {{2}} for a total of {{3}}. "
                "We will let you know when it ships.",
                "example": {"body_text": [["Ana", "#1042", "$42.00"]]},
            },
        ],
    },
    {
        "name": "atualizacao_pedido",
        "language": "pt_BR",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "category": "UTILITY",
        "id": "1301846397452106",
        "components": [
            {
                "type": "BODY",
                "text": "Seu pedido {{1}} agora está {{2}}.",
                "example": {"body_text": [["#1042", "enviado"]]},
            },
        ],
    },
    {
        "name": "we_miss_you",
        "language": "en_US",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "category": "MARKETING",
        "id": "1301846397452107",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, it has been a while! Here is {{2}} off your next order.",
                "example": {"body_text": [["Ana", "10%"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Show me"},
                    {"type": "QUICK_REPLY", "text": "Stop promotions"},
                ],
            },
        ],
    },
]


# the running sandbox's templates created through the API (SandboxState.created_templates)
_created: list[dict[str, Any]] = []


def use_created(templates: list[dict[str, Any]]) -> None:
    global _created
    _created = templates


def all_templates() -> list[dict[str, Any]]:
    return TEMPLATES + _created


def find(name: str, language: str) -> dict[str, Any] | None:
    """An approved template (a created one only once it is approved, as Meta sends only those)."""
    return next(
        (
            t
            for t in all_templates()
            if t["name"] == name and t["language"] == language and t["status"] == "APPROVED"
        ),
        None,
    )


def placeholders(template: dict[str, Any], component: str) -> int:
    """How many `{{n}}` parameters a template's HEADER or BODY expects."""
    for comp in template["components"]:
        if comp["type"] == component:
            return len(set(re.findall(r"\{\{(\d+)\}\}", comp.get("text", ""))))
    return 0
