"""Meta's rules for a message template, checked before it is submitted; the Graph API body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wacrm.i18n.labels import N_
from wacrm.i18n.text import Text

NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2,4})?$")
VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
CATEGORIES = ("MARKETING", "UTILITY")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT")
# a media header's sample, by Meta's limits: accepted types and the largest size in bytes
MEDIA_SAMPLES: dict[str, tuple[tuple[str, ...], int]] = {
    "IMAGE": (("image/jpeg", "image/png"), 5 * 1024 * 1024),
    "VIDEO": (("video/mp4",), 16 * 1024 * 1024),
    "DOCUMENT": (("application/pdf",), 100 * 1024 * 1024),
}
EXAMPLE = "{{1}}, {{2}}, ..."
SAMPLE_NEEDED = {
    "IMAGE": N_("upload a sample image for review"),
    "VIDEO": N_("upload a sample video for review"),
    "DOCUMENT": N_("upload a sample document for review"),
}
BODY_MAX, HEADER_MAX, FOOTER_MAX, BUTTON_TEXT_MAX, QUICK_REPLIES_MAX = 1024, 60, 60, 25, 10


@dataclass
class Draft:
    """A template as the form (or the API) gives it."""

    name: str
    language: str
    category: str
    body: str
    body_examples: list[str] = field(default_factory=list)
    header: str = ""
    header_example: str = ""
    header_format: str = "TEXT"  # TEXT, IMAGE, VIDEO or DOCUMENT
    header_handle: str = ""  # a media header's sample, from the Resumable Upload API
    footer: str = ""
    quick_replies: list[str] = field(default_factory=list)
    url_text: str = ""
    url: str = ""
    phone_text: str = ""
    phone: str = ""


def _variables(text: str) -> list[str]:
    return VARIABLE.findall(text)


def _check_variables(text: str, where: str, errors: dict[str, Text]) -> int:
    """Positional variables {{1}}..{{n}}, each once or more, none missing; returns n."""
    found = _variables(text)
    if any(not v.isdigit() for v in found):
        errors[where] = Text("variables are numbers in double braces: {example}", example=EXAMPLE)
        return 0
    numbers = sorted({int(v) for v in found})
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        errors[where] = Text(
            "number the variables {example} in order, without gaps", example=EXAMPLE
        )
        return 0
    return len(numbers)


def check(draft: Draft, *, editing: bool = False) -> dict[str, Text]:  # noqa: C901 - one rule per line
    """Field -> what is wrong, by Meta's rules (empty when the draft can be submitted)."""
    errors: dict[str, Text] = {}
    if not editing and not NAME.match(draft.name):
        errors["name"] = Text("lower-case letters, digits and underscores only (at most 512)")
    if not editing and not LANGUAGE.match(draft.language):
        errors["language"] = Text("a language code such as en_US, pt_BR or de")
    if draft.category not in CATEGORIES:
        errors["category"] = Text("choose MARKETING or UTILITY")
    body = draft.body.strip()
    if not body:
        errors["body"] = Text("write the message body")
    elif len(body) > BODY_MAX:
        errors["body"] = Text("at most {n} characters", n=BODY_MAX)
    else:
        n = _check_variables(body, "body", errors)
        if "body" not in errors and n:
            if re.match(r"^\s*\{\{", body) or re.search(r"\}\}\s*[.!?]?\s*$", body):
                errors["body"] = Text("a variable cannot be at the very start or end of the body")
            elif re.search(r"\}\}\s*\{\{", body):
                errors["body"] = Text(
                    "two variables cannot be next to each other: put words between"
                )
            elif len([e for e in draft.body_examples if e.strip()]) < n:
                errors["body_examples"] = Text("give an example for each of the {n} variables", n=n)
    header = draft.header.strip()
    if draft.header_format not in HEADER_FORMATS:
        errors["header_format"] = Text("choose text, image, video or document")
    elif draft.header_format != "TEXT":
        if not draft.header_handle:
            errors["header_file"] = Text(SAMPLE_NEEDED[draft.header_format])
    elif header:
        if len(header) > HEADER_MAX:
            errors["header"] = Text("at most {n} characters", n=HEADER_MAX)
        elif (n := _check_variables(header, "header", errors)) > 1:
            errors["header"] = Text(
                "a header has at most one variable, {variable}", variable="{{1}}"
            )
        elif n == 1 and not draft.header_example.strip():
            errors["header_example"] = Text("give an example for the header's variable")
    if draft.footer.strip():
        if len(draft.footer.strip()) > FOOTER_MAX:
            errors["footer"] = Text("at most {n} characters", n=FOOTER_MAX)
        elif _variables(draft.footer):
            errors["footer"] = Text("a footer cannot have variables")
    replies = [r.strip() for r in draft.quick_replies if r.strip()]
    if len(replies) > QUICK_REPLIES_MAX:
        errors["quick_replies"] = Text("at most {n} quick replies", n=QUICK_REPLIES_MAX)
    elif any(len(r) > BUTTON_TEXT_MAX for r in replies):
        errors["quick_replies"] = Text("each quick reply at most {n} characters", n=BUTTON_TEXT_MAX)
    if draft.url_text.strip() or draft.url.strip():
        if not draft.url.strip().startswith("https://") or len(draft.url.strip()) > 2000:
            errors["url"] = Text("an https:// address (at most {n} characters)", n=2000)
        if not draft.url_text.strip() or len(draft.url_text.strip()) > BUTTON_TEXT_MAX:
            errors["url_text"] = Text(
                "the button's text, at most {n} characters", n=BUTTON_TEXT_MAX
            )
    if draft.phone_text.strip() or draft.phone.strip():
        if not PHONE.match(draft.phone.strip()):
            errors["phone"] = Text("a phone number with its country code, such as +4915123456789")
        if not draft.phone_text.strip() or len(draft.phone_text.strip()) > BUTTON_TEXT_MAX:
            errors["phone_text"] = Text(
                "the button's text, at most {n} characters", n=BUTTON_TEXT_MAX
            )
    return errors


def components(draft: Draft) -> list[dict[str, Any]]:
    """The `components` of the Graph API body."""
    out: list[dict[str, Any]] = []
    if draft.header_format in MEDIA_SAMPLES:
        out.append(
            {
                "type": "HEADER",
                "format": draft.header_format,
                "example": {"header_handle": [draft.header_handle]},
            }
        )
    elif draft.header.strip():
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": draft.header.strip()}
        if _variables(draft.header):
            header["example"] = {"header_text": [draft.header_example.strip()]}
        out.append(header)
    body: dict[str, Any] = {"type": "BODY", "text": draft.body.strip()}
    n = len(set(_variables(draft.body)))
    if n:
        body["example"] = {"body_text": [[e.strip() for e in draft.body_examples[:n]]]}
    out.append(body)
    if draft.footer.strip():
        out.append({"type": "FOOTER", "text": draft.footer.strip()})
    buttons: list[dict[str, Any]] = [
        {"type": "QUICK_REPLY", "text": r.strip()} for r in draft.quick_replies if r.strip()
    ]
    if draft.url.strip():
        buttons.append({"type": "URL", "text": draft.url_text.strip(), "url": draft.url.strip()})
    if draft.phone.strip():
        buttons.append(
            {
                "type": "PHONE_NUMBER",
                "text": draft.phone_text.strip(),
                "phone_number": draft.phone.strip(),
            }
        )
    if buttons:
        out.append({"type": "BUTTONS", "buttons": buttons})
    return out


def check_sample(header_format: str, content_type: str, size: int) -> Text | None:
    """What is wrong with a media header's sample file (None when Meta accepts it)."""
    kinds, largest = MEDIA_SAMPLES[header_format]
    if content_type not in kinds:
        return Text(
            "this header takes {kinds}, not {given}", kinds=kinds, given=content_type or "?"
        )
    if not 0 < size <= largest:
        return Text("the sample must be at most {mb} MB (and not empty)", mb=largest // 1024**2)
    return None


def header_media(components: list[dict[str, Any]]) -> str | None:
    """The media kind (image, video, document) of a template's header, if it has one."""
    for comp in components or []:
        if str(comp.get("type", "")).upper() == "HEADER":
            kind = str(comp.get("format", "TEXT")).upper()
            return kind.lower() if kind in MEDIA_SAMPLES else None
    return None


def draft_of(template: dict[str, Any]) -> Draft:
    """A cached template back into the form's fields (for editing)."""
    d = Draft(
        name=template["name"],
        language=template["language"],
        category=str(template.get("category") or "").upper(),
        body="",
    )
    for comp in template.get("components") or []:
        kind = str(comp.get("type", "")).upper()
        if kind == "HEADER" and str(comp.get("format", "TEXT")).upper() in MEDIA_SAMPLES:
            d.header_format = str(comp["format"]).upper()
            d.header_handle = ((comp.get("example") or {}).get("header_handle") or [""])[0]
        elif kind == "HEADER" and str(comp.get("format", "TEXT")).upper() == "TEXT":
            d.header = comp.get("text", "")
            d.header_example = ((comp.get("example") or {}).get("header_text") or [""])[0]
        elif kind == "BODY":
            d.body = comp.get("text", "")
            d.body_examples = list(((comp.get("example") or {}).get("body_text") or [[]])[0])
        elif kind == "FOOTER":
            d.footer = comp.get("text", "")
        elif kind == "BUTTONS":
            for b in comp.get("buttons") or []:
                if b.get("type") == "QUICK_REPLY":
                    d.quick_replies.append(b.get("text", ""))
                elif b.get("type") == "URL":
                    d.url_text, d.url = b.get("text", ""), b.get("url", "")
                elif b.get("type") == "PHONE_NUMBER":
                    d.phone_text, d.phone = b.get("text", ""), b.get("phone_number", "")
    return d
