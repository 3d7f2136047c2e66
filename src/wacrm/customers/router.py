"""`/api/v1/customers`: read a customer, rename it (agent-scoped)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from psycopg import AsyncConnection

from wacrm.accounts.deps import AgentScope, agent_scope, db_conn, require_csrf
from wacrm.customers import service
from wacrm.customers.schemas import CustomerOut, CustomerPatch
from wacrm.errors import NotFoundError
from wacrm.i18n.text import Text

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


def _not_found(customer_id: int) -> NotFoundError:
    return NotFoundError(
        Text("no customer with id {customer_id} for this agent", customer_id=customer_id)
    )


@router.get("/{customer_id:int}", response_model=CustomerOut)
async def get_customer(
    customer_id: int,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    row = await service.get_customer(conn, tables=scope.tables, customer_id=customer_id)
    if row is None:
        raise _not_found(customer_id)
    return row


@router.patch(
    "/{customer_id:int}", response_model=CustomerOut, dependencies=[Depends(require_csrf)]
)
async def rename_customer(
    customer_id: int,
    body: CustomerPatch,
    scope: AgentScope = Depends(agent_scope),
    conn: AsyncConnection[Any] = Depends(db_conn),
) -> dict[str, Any]:
    row = await service.rename_customer(
        conn, tables=scope.tables, customer_id=customer_id, name=body.name
    )
    if row is None:
        raise _not_found(customer_id)
    return row
