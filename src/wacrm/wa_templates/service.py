"""Creating, editing and deleting a number's message templates at Meta, and the cache kept in
step by Meta's template webhooks (`message_template_status_update`, `template_category_update`)."""

from __future__ import annotations

import json
from typing import Any

from psycopg import AsyncConnection

from wacrm.config import GraphApi
from wacrm.errors import AppError
from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text
from wacrm.outbound import errors as send_errors
from wacrm.outbound.client import client_for
from wacrm.wa_templates import rules

STATUS_FIELDS = ("message_template_status_update", "template_category_update")
REASONS = {
    "INVALID_FORMAT": N_("the format is not valid (variables, length or formatting)"),
    "ABUSIVE_CONTENT": N_("the content breaks WhatsApp's policies"),
    "INCORRECT_CATEGORY": N_("the category does not match the content"),
    "PROMOTIONAL": N_("promotional content in a template that is not MARKETING"),
    "TAG_CONTENT_MISMATCH": N_("the content does not match the category"),
    "SCAM": N_("it looks like a scam"),
}
FIX_FIELDS = Text("fix the fields marked")


class TemplateError(AppError):
    """A template that cannot be created, changed or deleted (422 unless said); `errors` maps
    the form's fields to what is wrong with each."""

    status = 422

    def __init__(
        self,
        message: str | Text,
        status: int | None = None,
        errors: dict[str, Text] | dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, status)
        self.errors: dict[str, Text | str] = dict(errors or {"form": message})


def _meta(exc: send_errors.SendError) -> str:
    """The explanation with Meta's own details (which field, which rule), when it gave them."""
    return f"{exc.explanation}: {exc.details}" if exc.details else exc.explanation


def explain_reason(reason: str | None) -> Text | str | None:
    """Meta's rejection reason code as a sentence (translated where shown)."""
    if not reason or reason == "NONE":
        return None
    return Text(REASONS[reason]) if reason in REASONS else reason.replace("_", " ").lower()


async def _store(
    conn: AsyncConnection[Any], config_id: int, draft: rules.Draft, answer: dict[str, Any]
) -> None:
    await conn.execute(
        """INSERT INTO whatsapp_templates (config_id, name, language, status, category, components,
             template_id, rejected_reason, status_updated_at, fetched_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, now(), now())
           ON CONFLICT (config_id, name, language) DO UPDATE SET status = EXCLUDED.status,
             category = EXCLUDED.category, components = EXCLUDED.components,
             template_id = coalesce(EXCLUDED.template_id, whatsapp_templates.template_id),
             rejected_reason = NULL, status_updated_at = now()""",
        (
            config_id,
            draft.name,
            draft.language,
            answer.get("status") or "PENDING",
            answer.get("category") or draft.category,
            json.dumps(rules.components(draft)),
            answer.get("id"),
        ),
    )


async def submit(
    conn: AsyncConnection[Any], *, config: dict[str, Any], draft: rules.Draft, graph: GraphApi
) -> None:
    """Check the draft by Meta's rules and create it at Meta (it starts PENDING)."""
    problems = rules.check(draft)
    if problems:
        raise TemplateError(FIX_FIELDS, errors=problems)
    body = {
        "name": draft.name,
        "language": draft.language,
        "category": draft.category,
        "components": rules.components(draft),
    }
    try:
        async with client_for(config, graph) as client:
            answer = await client.create_template(body)
    except send_errors.SendError as exc:
        raise TemplateError(
            Text("WhatsApp refused the template: {why}", why=_meta(exc)), 502
        ) from None
    await _store(conn, config["id"], draft, answer)


async def attach_sample(
    config: dict[str, Any],
    draft: rules.Draft,
    data: bytes,
    content_type: str,
    file_name: str,
    *,
    graph: GraphApi,
) -> None:
    """Upload a media header's sample (checked by Meta's type and size limits) into the draft."""
    if draft.header_format not in rules.MEDIA_SAMPLES:
        return
    problem = rules.check_sample(draft.header_format, content_type, len(data))
    if problem:
        raise TemplateError(FIX_FIELDS, errors={"header_file": problem})
    try:
        async with client_for(config, graph) as client:
            draft.header_handle = await client.upload_sample(data, content_type, file_name)
    except send_errors.SendError as exc:
        raise TemplateError(
            FIX_FIELDS,
            502,
            errors={"header_file": Text("WhatsApp did not take the sample: {why}", why=_meta(exc))},
        ) from None


async def get(
    conn: AsyncConnection[Any], *, config_id: int, name: str, language: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT * FROM whatsapp_templates WHERE config_id = %s AND name = %s AND language = %s",
        (config_id, name, language),
    )
    row = await cur.fetchone()
    return dict(row) if row else None


async def edit(
    conn: AsyncConnection[Any], *, config: dict[str, Any], draft: rules.Draft, graph: GraphApi
) -> None:
    """Submit new content for an existing template (reviewed again: PENDING)."""
    current = await get(conn, config_id=config["id"], name=draft.name, language=draft.language)
    if current is None:
        raise TemplateError(
            Text("no template {name} ({language})", name=draft.name, language=draft.language),
            404,
        )
    if not current.get("template_id"):
        raise TemplateError(
            Text("refresh the list first: this template's id at Meta is not known yet"), 409
        )
    problems = rules.check(draft, editing=True)
    if problems:
        raise TemplateError(FIX_FIELDS, errors=problems)
    try:
        async with client_for(config, graph) as client:
            await client.update_template(
                current["template_id"],
                {"category": draft.category, "components": rules.components(draft)},
            )
    except send_errors.SendError as exc:
        raise TemplateError(
            Text("WhatsApp refused the change: {why}", why=_meta(exc)), 502
        ) from None
    await _store(conn, config["id"], draft, {"status": "PENDING", "id": current["template_id"]})


async def delete(
    conn: AsyncConnection[Any], *, config: dict[str, Any], name: str, graph: GraphApi
) -> None:
    """Delete a template (every language of that name, as Meta does) at Meta and here."""
    try:
        async with client_for(config, graph) as client:
            await client.delete_template(name)
    except send_errors.SendError as exc:
        raise TemplateError(
            Text("WhatsApp did not delete the template: {why}", why=exc.explanation), 502
        ) from None
    await conn.execute(
        "DELETE FROM whatsapp_templates WHERE config_id = %s AND name = %s", (config["id"], name)
    )


_STATUS = """
UPDATE whatsapp_templates t SET status = %(status)s, rejected_reason = %(reason)s,
  status_updated_at = now(), template_id = coalesce(t.template_id, %(id)s)
FROM whatsapp_configuration w
WHERE w.id = t.config_id AND w.business_account_id = %(waba)s
  AND (t.template_id = %(id)s OR (t.name = %(name)s AND t.language = %(language)s))
"""
_CATEGORY = """
UPDATE whatsapp_templates t SET previous_category = %(previous)s, category = %(category)s,
  status_updated_at = now()
FROM whatsapp_configuration w
WHERE w.id = t.config_id AND w.business_account_id = %(waba)s
  AND (t.template_id = %(id)s OR (t.name = %(name)s AND t.language = %(language)s))
"""


async def apply_webhooks(conn: AsyncConnection[Any], data: Any) -> int:
    """Apply the template status / category changes of one webhook payload; how many changes."""
    applied = 0
    for entry in (data or {}).get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or []:
            if not isinstance(change, dict) or change.get("field") not in STATUS_FIELDS:
                continue
            value = change.get("value") or {}
            ident = {
                "waba": str(entry.get("id")),
                "id": str(value.get("message_template_id") or ""),
                "name": value.get("message_template_name"),
                "language": value.get("message_template_language"),
            }
            if change["field"] == "message_template_status_update":
                event = str(value.get("event") or "").upper()
                status = "APPROVED" if event == "REINSTATED" else event
                reason = value.get("reason") if status == "REJECTED" else None
                await conn.execute(_STATUS, {**ident, "status": status, "reason": reason})
            else:
                await conn.execute(
                    _CATEGORY,
                    {
                        **ident,
                        "previous": value.get("previous_category"),
                        "category": value.get("new_category") or value.get("correct_category"),
                    },
                )
            applied += 1
    return applied


def waba_of(data: Any) -> str | None:
    """The WABA id of a webhook without a phone number (template and account fields)."""
    if not isinstance(data, dict):
        return None
    for entry in data.get("entry") or []:
        if isinstance(entry, dict) and entry.get("id"):
            return str(entry["id"])
    return None


async def app_secrets_of_waba(conn: AsyncConnection[Any], waba_id: str) -> list[str]:
    """The app secrets of the numbers of a WABA (a template webhook is signed with one of them)."""
    from wacrm.security.crypto import decrypt_secret

    cur = await conn.execute(
        """SELECT DISTINCT app_secret FROM whatsapp_configuration
           WHERE business_account_id = %s AND app_secret IS NOT NULL""",
        (waba_id,),
    )
    return [decrypt_secret(r["app_secret"]) for r in await cur.fetchall()]
