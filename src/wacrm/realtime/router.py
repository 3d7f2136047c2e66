"""GET /api/v1/events: the agent's live events as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from wacrm.accounts.deps import AgentScope, agent_scope_brief

router = APIRouter(prefix="/api/v1", tags=["realtime"])

RETRY_MS = 2000
PING_SECONDS = 15


@router.get("/events", response_class=EventSourceResponse)
async def events(
    request: Request, scope: AgentScope = Depends(agent_scope_brief)
) -> EventSourceResponse:
    """Live events of this agent (message, status, customer, order; `refresh` after a gap)."""
    hub = getattr(request.app.state, "event_hub", None)
    if hub is None:
        raise HTTPException(
            503, detail="live events are not running in this process; try again shortly"
        )

    async def stream() -> AsyncIterator[ServerSentEvent]:
        # `ready` is sent once subscribed: every event after it reaches this client; a client
        # (re)connecting refreshes what it shows on `ready`, and again on `refresh`.
        with hub.subscribe(scope.agent_id) as sub:
            ready = {"kind": "ready", "agent_id": scope.agent_id}
            yield ServerSentEvent(data=orjson.dumps(ready).decode(), event="ready", retry=RETRY_MS)
            while True:
                event = await sub.get()
                yield ServerSentEvent(data=orjson.dumps(event).decode(), event=event["kind"])

    return EventSourceResponse(
        stream(),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
