"""Route registration does not depend on include order: no path parameter shadows a literal path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.routing import Match, Route

from wacrm.app import create_app


def _routes(routes: list[Any]) -> Iterator[Route]:
    for r in routes:
        if hasattr(r, "original_router"):  # an included router (FastAPI keeps it whole)
            yield from _routes(r.original_router.routes)
        elif isinstance(r, Route):
            yield r


def test_no_route_takes_another_routes_literal_path(settings: Any) -> None:
    app = create_app(settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    routes = list(_routes(app.router.routes))
    assert len(routes) > 100
    literal = [r for r in routes if "{" not in r.path]
    shadowed = [
        f"{sorted((a.methods or set()) & (b.methods or set()))} {a.path} takes {b.path}"
        for a in routes
        if "{" in a.path
        for b in literal
        if (a.methods or set()) & (b.methods or set()) and a.path_regex.match(b.path)
    ]
    assert not shadowed, "\n".join(shadowed)


def test_numeric_ids_stay_numeric_in_the_openapi_document(settings: Any) -> None:
    paths = create_app(settings, database_url="postgresql://nobody@127.0.0.1:1/none").openapi()
    assert "/api/v1/customers/{customer_id}" in paths["paths"]
    assert not [p for p in paths["paths"] if ":int" in p]


def _sample_path(path: str) -> str:
    """A concrete path the route matches: int parameters 7, paths a/b, other parameters 'seven'."""
    path = re.sub(r"\{[^}:]+:int\}", "7", path)
    path = re.sub(r"\{[^}:]+:path\}", "a/b", path)
    return re.sub(r"\{[^}:]+\}", "seven", path)


def _first_match(routes: list[Route], method: str, path: str) -> Route | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return next((r for r in routes if r.matches(scope)[0] == Match.FULL), None)


def test_every_route_is_found_whatever_the_include_order(settings: Any) -> None:
    """A request for each route's path reaches the same route with the routes in reverse order."""
    app = create_app(settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    routes = list(_routes(app.router.routes))
    backwards = list(reversed(routes))
    differ = [
        f"{method} {_sample_path(r.path)}: {found.path} or {other.path}"
        for r in routes
        for method in sorted(r.methods or ())
        if (found := _first_match(routes, method, _sample_path(r.path)))
        is not (other := _first_match(backwards, method, _sample_path(r.path)))
        and found is not None
        and other is not None
    ]
    assert not differ, "\n".join(differ)
