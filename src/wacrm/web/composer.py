"""The chat's composer: text and files inside the 24-hour window, approved templates outside it
(each parameter named from the template's own text)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope
from wacrm.config import GraphApi
from wacrm.i18n import gettext as _
from wacrm.numbers import service as numbers
from wacrm.outbound import errors as send_errors
from wacrm.outbound import template_text, templates
from wacrm.outbound.schemas import TemplateHeaderMedia
from wacrm.wa_templates.rules import header_media


def template_choices(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Approved templates with their body text and each parameter named from that text."""
    out = []
    for t in found:
        if (t.get("status") or "APPROVED").upper() != "APPROVED":
            continue
        text = template_text.body_text(t.get("components"))
        labels = template_text.param_labels(text)
        language = t.get("language") or "en_US"
        out.append(
            {
                "key": f"{t['name']}|{language}",
                "name": t["name"],
                "language": language,
                "text": text,
                "labels": labels,
                "params": len(labels),
                "header_media": header_media(t.get("components") or []),
            }
        )
    return out


def template_params(form: Any, template: str, legacy: list[str]) -> list[str]:
    """The chosen template's parameters in order (fields tp:<name|language>:<n>), up to the first
    empty one: the send is then refused naming that parameter."""
    values: list[str] = []
    number = 1
    while f"tp:{template}:{number}" in form:
        values.append(str(form.get(f"tp:{template}:{number}") or "").strip())
        number += 1
    if not values:  # the plain `params` fields (API-style form posts)
        values = [p.strip() for p in legacy]
    given = []
    for value in values:
        if not value:
            break
        given.append(value)
    return given


def template_header(form: Any, template: str) -> TemplateHeaderMedia | None:
    """The media of the chosen template's media header (fields th:<key> and its kind thk:<key>):
    an https:// link or a media id; None when not given (the send is then refused, naming it)."""
    value = str(form.get(f"th:{template}") or "").strip()
    kind = str(form.get(f"thk:{template}") or "")
    if not value or kind not in ("image", "video", "document"):
        return None
    if value.isdigit():
        return TemplateHeaderMedia(type=kind, id=value)
    return TemplateHeaderMedia(type=kind, link=value)


async def _templates(
    conn: AsyncConnection[Any], scope: AgentScope, graph: GraphApi
) -> tuple[list[dict], str | None]:
    config = await numbers.get_by_agent_id(conn, agent_id=scope.agent_id)
    if config is None:
        return [], _("this workspace has no WhatsApp number yet: an administrator connects one")
    found = await templates.cached(conn, config_id=config["id"])
    if not found:
        try:
            found = await templates.refresh(conn, config=config, graph=graph)
        except send_errors.SendError as exc:
            why = exc.explanation_for(is_admin=scope.user.is_admin)
            return [], _("WhatsApp did not list the templates: %(why)s") % {"why": why}
    return template_choices(found), None


async def composer_context(
    conn: AsyncConnection[Any],
    scope: AgentScope,
    conv: dict[str, Any],
    graph: GraphApi,
    **extra: Any,
) -> dict[str, Any]:
    mode = "text" if conv["window"]["state"] == "open" else "template"
    context: dict[str, Any] = {
        "c": conv,
        "mode": mode,
        "error": None,
        "error_field": "composer",
        "templates": [],
        "templates_error": None,
        "max_params": 0,
    }
    if mode == "template":
        context["templates"], context["templates_error"] = await _templates(conn, scope, graph)
        context["max_params"] = max([t["params"] for t in context["templates"]] or [0])
    context.update(extra)
    return context
