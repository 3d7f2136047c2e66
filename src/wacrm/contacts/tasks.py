"""The job that writes a confirmed web import (wacrm.contacts.imports)."""

from __future__ import annotations

from typing import Any

from wacrm.contacts import imports
from wacrm.jobs import context, entrypoint


@entrypoint(imports.IMPORT_JOB)
async def import_contacts(payload: dict[str, Any]) -> None:
    await imports.run(context.current().pool, import_id=int(payload["import_id"]))
