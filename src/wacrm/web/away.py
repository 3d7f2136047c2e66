"""The workspace's business hours, away message and greeting (/settings/away)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wacrm import i18n
from wacrm.accounts.deps import AgentScope
from wacrm.away import service as away
from wacrm.contacts import service as contacts
from wacrm.i18n.text import Text
from wacrm.web.deps import web_manager, web_workspace
from wacrm.web.templating import render

router = APIRouter(prefix="/settings/away", include_in_schema=False)


async def _page(
    request: Request,
    scope: AgentScope,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    saved: bool = False,
    words_typed: dict[str, str] | None = None,
) -> Response:
    conn = scope.db
    current = await away.get_settings(conn, agent_id=scope.agent_id)
    open_now = await away.is_open(conn, agent_id=scope.agent_id)
    words = await contacts.opt_words(conn, agent_id=scope.agent_id)
    typed_words = words_typed or {
        kind: "\n".join(f"{lang}: {', '.join(ws)}" for lang, ws in sorted(words[kind].items()))
        for kind in ("out", "in")
    }
    if values is None:
        values = {
            "time_zone": current.get("time_zone") or "UTC",
            "hours": {
                d: (r[0] if r else ["", ""])
                for d, r in ((d, current["hours"].get(d) or []) for d in away.DAYS)
            },
            "holidays": "\n".join(str(d) for d in current["holidays"]),
            "away_enabled": bool(current.get("away_enabled")),
            "away_text": current.get("away_text") or "",
            "away_every_hours": current["away_every_hours"],
            "greeting_enabled": bool(current.get("greeting_enabled")),
            "greeting_text": current.get("greeting_text") or "",
        }
    return await render(
        request,
        "away.html",
        user=scope.user,
        scope=scope,
        nav="away",
        status_code=status_code,
        values=values,
        errors=errors or {},
        zones=i18n.time_zone_names(),
        days=away.DAYS,
        open_now=open_now,
        words=typed_words,
        saved=saved,
    )


@router.get("", response_class=HTMLResponse)
async def away_page(
    request: Request, saved: str = "", scope: AgentScope = Depends(web_workspace)
) -> Response:
    return await _page(request, scope, saved=saved == "1")


@router.post("", response_class=HTMLResponse)
async def save(request: Request, scope: AgentScope = Depends(web_manager)) -> Response:
    form = await request.form()

    def text(name: str, limit: int = 4200) -> str:
        value = form.get(name, "")
        return value[:limit] if isinstance(value, str) else ""

    values: dict[str, Any] = {
        "time_zone": text("time_zone", 64),
        "hours": {d: [text(f"open{d}", 5), text(f"close{d}", 5)] for d in away.DAYS},
        "holidays": text("holidays", 4000),
        "away_enabled": text("away_enabled") == "true",
        "away_text": text("away_text"),
        "away_every_hours": text("away_every_hours", 4),
        "greeting_enabled": text("greeting_enabled") == "true",
        "greeting_text": text("greeting_text"),
    }
    try:
        every = values["away_every_hours"]
        if not str(every).isdigit():
            raise away.AwayError(Text("a whole number of hours"), "away_every_hours")
        conn = scope.db
        await away.save_settings(
            conn,
            agent_id=scope.agent_id,
            time_zone=values["time_zone"],
            hours=away.parse_hours({d: (o, c) for d, (o, c) in values["hours"].items()}),
            holidays=away.parse_holidays(values["holidays"]),
            away_enabled=values["away_enabled"],
            away_text=values["away_text"],
            away_every_hours=int(every),
            greeting_enabled=values["greeting_enabled"],
            greeting_text=values["greeting_text"],
        )
    except away.AwayError as exc:
        return await _page(
            request, scope, values=values, errors={exc.field: str(exc)}, status_code=422
        )
    return RedirectResponse("/settings/away?saved=1", status_code=303)


@router.post("/opt-words", response_class=HTMLResponse)
async def save_opt_words(request: Request, scope: AgentScope = Depends(web_manager)) -> Response:
    """The opt-out / opt-in words per language (a customer's whole message being one of them)."""
    form = await request.form()
    typed = {k: str(form.get(f"opt_{k}_words", ""))[:8000] for k in ("out", "in")}
    try:
        conn = scope.db
        await contacts.save_opt_words(
            conn, agent_id=scope.agent_id, out_text=typed["out"], in_text=typed["in"]
        )
    except contacts.OptWordsError as exc:
        return await _page(
            request, scope, errors={exc.field: str(exc)}, status_code=422, words_typed=typed
        )
    return RedirectResponse("/settings/away?saved=1", status_code=303)
