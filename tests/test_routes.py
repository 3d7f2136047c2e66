"""Route registration does not depend on include order: no path parameter shadows a literal path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.routing import Route

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
