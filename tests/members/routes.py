"""The app's routes by the workspace dependency they use, read from the route table (so a route
added later is covered by the tests that iterate them)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.accounts.test_authz_matrix import _calls
from wacrm.accounts import deps
from wacrm.members import router as members_router
from wacrm.web import deps as web_deps

API_SCOPES = {deps.agent_scope, deps.agent_scope_brief, members_router.member_scope}
WEB_SCOPES = {web_deps.web_workspace, web_deps.web_scope}
MANAGERS = {deps.manager_scope, members_router.manager_of_path, web_deps.web_manager}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _flat(routes: list[Any]) -> list[Any]:
    out = []
    for r in routes:
        if hasattr(r, "original_router"):
            out += _flat(r.original_router.routes)
        elif getattr(r, "dependant", None) is not None:
            out.append(r)
    return out


def workspace_routes(app: Any, scopes: set[Any]) -> list[tuple[str, str, bool]]:
    """(method, path, manager only) of every route that resolves a workspace with `scopes`."""
    found = []
    for route in _flat(app.router.routes):
        calls = _calls(route.dependant)
        if not calls & scopes:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append((method, route.path, bool(calls & MANAGERS)))
    return found


def fill(path: str, *, agent_id: int, row_id: int = 7001) -> str:
    """A concrete URL: {agent_id} the workspace, a user id a random UUID, other ids `row_id`."""
    path = path.replace("{agent_id}", str(agent_id))
    path = re.sub(r"\{user_id\}", str(uuid.uuid4()), path)
    return re.sub(r"\{[^}]+\}", str(row_id), path)
