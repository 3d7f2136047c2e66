"""Agent-scoped JSON API: the inbox, one conversation, its chat pages, mark read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope, agent_scope, db_conn
from wacrm.conversations import schemas
from wacrm.conversations import service as conversations
from wacrm.conversations.filters import TeamFilter
from wacrm.conversations.team_router import team_filter

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])

CustomerId = Path(..., ge=1, le=2**31 - 1, description="The customer's id in the agent's tables")


@router.get("", response_model=schemas.ConversationPage)
async def list_conversations(
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
    cursor: str | None = Query(
        None, max_length=200, description="next_cursor of the previous page"
    ),
    limit: int = Query(50, ge=1, le=conversations.MAX_PAGE),
    unread: bool = Query(False, description="only conversations with unread messages"),
    has_open_order: bool = Query(
        False, description="only customers with an order not delivered or cancelled"
    ),
    q: str | None = Query(
        None, max_length=100, description="name, username or phone prefix, or message words"
    ),
    team: TeamFilter = Depends(team_filter),
) -> dict[str, Any]:
    """Conversations by last activity, newest first (keyset pages); by default the open ones."""
    return await conversations.inbox(
        conn,
        tables=scope.tables,
        limit=limit,
        cursor=cursor,
        unread=unread,
        has_open_order=has_open_order,
        q=q,
        team=team,
    )


@router.get("/{customer_id:int}", response_model=schemas.Conversation)
async def get_conversation(
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    return await conversations.conversation(conn, tables=scope.tables, customer_id=customer_id)


@router.get("/{customer_id}/messages", response_model=schemas.ChatPage)
async def chat_messages(
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
    cursor: str | None = Query(
        None, max_length=200, description="next_cursor of the previous (newer) page"
    ),
    limit: int = Query(50, ge=1, le=conversations.MAX_PAGE),
) -> dict[str, Any]:
    """A customer's messages, newest first; next_cursor gives the older page."""
    return await conversations.chat(
        conn, tables=scope.tables, customer_id=customer_id, limit=limit, cursor=cursor
    )


@router.post("/{customer_id}/read", response_model=schemas.MarkedRead)
async def mark_read(
    customer_id: int = CustomerId,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    """Mark every inbound message of the conversation read (and send the read receipt)."""
    return await conversations.mark_read(
        conn, tables=scope.tables, agent_id=scope.agent_id, customer_id=customer_id
    )
