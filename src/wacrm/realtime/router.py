"""GET /api/v1/events: the agent's live events as Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from wacrm.accounts.deps import AgentScope, agent_scope_brief
from wacrm.accounts.recheck import still_allowed
from wacrm.realtime.hub import RECHECK

router = APIRouter(prefix="/api/v1", tags=["realtime"])

RETRY_MS = 2000
PING_SECONDS = 15
RECHECK_SECONDS = 30.0  # a stream re-checks its session or token at least this often
SIGNED_OUT = "signed_out"  # the last event of a stream whose credential no longer holds


@router.get("/events", response_class=EventSourceResponse)
async def events(
    request: Request, scope: AgentScope = Depends(agent_scope_brief)
) -> EventSourceResponse:
    """Live events of this agent (message, status, customer, order; `refresh` after a gap).

    The session or token is re-checked every 30 s and at once when the user's credentials change
    in any process (sign-out, token revocation, deactivation): then `signed_out` ends the stream."""
    hub = getattr(request.app.state, "event_hub", None)
    if hub is None:
        raise HTTPException(
            503, detail="live events are not running in this process; try again shortly"
        )

    every = float(getattr(request.app.state, "sse_recheck_seconds", RECHECK_SECONDS))

    async def stream() -> AsyncIterator[ServerSentEvent]:
        # `ready` is sent once subscribed: every event after it reaches this client; a client
        # (re)connecting refreshes what it shows on `ready`, and again on `refresh`.
        loop = asyncio.get_running_loop()
        with hub.subscribe(scope.agent_id, user_id=str(scope.user.id)) as sub:
            ready = {"kind": "ready", "agent_id": scope.agent_id}
            yield ServerSentEvent(data=orjson.dumps(ready).decode(), event="ready", retry=RETRY_MS)
            next_check = loop.time() + every
            while True:
                try:
                    event = await asyncio.wait_for(sub.get(), max(0.0, next_check - loop.time()))
                except TimeoutError:
                    event = {"kind": RECHECK}
                if event["kind"] != RECHECK:
                    yield ServerSentEvent(data=orjson.dumps(event).decode(), event=event["kind"])
                    continue
                if not await still_allowed(request, scope):
                    # sign-out, a revoked token, a deactivated user or a lost workspace: the
                    # stream ends (the browser's reconnection then gets 401)
                    gone = {"kind": SIGNED_OUT, "agent_id": scope.agent_id}
                    yield ServerSentEvent(data=orjson.dumps(gone).decode(), event=SIGNED_OUT)
                    return
                next_check = loop.time() + every

    return EventSourceResponse(
        stream(),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
