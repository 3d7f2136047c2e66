"""/metrics: labels are route templates (a stranger's paths cannot grow it) and who may read it."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
import pytest

UNMATCHED = "unmatched"

REQUEST_LINE = re.compile(r'^wacrm_http_requests_total\{method="([^"]*)",route="([^"]*)",status')


def all_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, set[str]]]:
    """(path template, methods) of every route of the app, through included routers."""
    out: list[tuple[str, set[str]]] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            out += all_routes(included.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(getattr(route, "path", None), str):
            out.append((prefix + route.path, set(getattr(route, "methods", None) or {"GET"})))
    return out


def request_labels(body: str) -> set[tuple[str, str]]:
    return {m.groups() for m in map(REQUEST_LINE.match, body.splitlines()) if m}  # type: ignore[misc]


async def stranger_requests(client: httpx.AsyncClient, marker: str) -> None:
    """Requests a stranger can make: random ids, unknown paths, wrong and invented methods."""
    paths = [
        f"/api/v1/customers/{marker}",
        f"/api/v1/orders/{marker}",
        f"/chat/{marker}",
        f"/orders/{marker}",
        f"/{marker}",
        f"/static/{marker}.js",
        f"/api/v1/{marker}/x/y",
        f"/healthz/{marker}",
    ]
    for path in paths:
        for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
            await client.request(method, path)
    await client.request(f"X{marker.upper()}", "/healthz")
    await client.request(f"X{marker.upper()}", f"/{marker}")


async def test_unmatched_paths_and_ids_do_not_grow_the_label_set(client) -> None:
    first, second = secrets.token_hex(6), secrets.token_hex(6)
    await client.get("/metrics")  # the scrape's own label is there before the snapshots compared
    await stranger_requests(client, first)
    after_first = request_labels((await client.get("/metrics")).text)
    await stranger_requests(client, second)
    body = (await client.get("/metrics")).text
    assert request_labels(body) == after_first, "a second stranger's paths added labels"
    assert first not in body and second not in body and first.upper() not in body
    assert ("GET", UNMATCHED) in after_first
    # a made-up id takes the route's template ({customer_id:int} only takes digits: a hex one
    # matches no route and counts as unmatched, as the assertions above check)
    assert ("GET", "/chat/{customer_id}") in after_first


async def test_every_route_with_ids_is_labelled_by_its_template(app, client) -> None:
    """Every route with a path parameter, asked with a made-up id, by its method and another."""
    routes = [(path, methods) for path, methods in all_routes(app.routes) if "{" in path]
    assert len(routes) > 20
    marker = "987650" + str(secrets.randbelow(10**6)).zfill(6)  # digits: {id:int} takes it
    for path, methods in routes:
        concrete = re.sub(r"\{[^}]+\}", marker, path)
        for method in sorted(methods)[:1] + ["PUT", "HEAD"]:
            await client.request(method, concrete)
    body = (await client.get("/metrics")).text
    assert marker not in body
    for path, _ in routes:
        label = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # {path:path}, {id:int}: the name only
        assert any(route == label for _, route in request_labels(body)), path


async def test_head_and_wrong_methods_use_the_template(client) -> None:
    await client.head("/healthz")
    await client.delete("/api/v1/customers/123")
    await client.head("/nowhere")
    labels = request_labels((await client.get("/metrics")).text)
    assert ("HEAD", "/healthz") in labels
    assert ("DELETE", "/api/v1/customers/{customer_id}") in labels
    assert ("HEAD", UNMATCHED) in labels


def client_from(app: Any, host: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_metrics_open_on_loopback_without_a_token(app, host) -> None:
    async with client_from(app, host) as http:
        assert (await http.get("/metrics")).status_code == 200


@pytest.mark.parametrize(
    "host,headers",
    [
        ("203.0.113.5", {}),
        ("10.0.0.7", {}),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.5"}),  # a local reverse proxy relays
        ("127.0.0.1", {"Forwarded": "for=203.0.113.5"}),
    ],
)
async def test_metrics_refused_from_elsewhere_without_a_token(app, host, headers) -> None:
    async with client_from(app, host, headers) as http:
        response = await http.get("/metrics")
    assert response.status_code == 403
    assert "WACRM_METRICS_TOKEN" in response.text
    assert "wacrm_http_requests_total" not in response.text


async def test_metrics_token_is_required_when_set(app) -> None:
    app.state.settings.metrics_token = "scrape-" + secrets.token_hex(16)
    token = app.state.settings.metrics_token
    for host in ("127.0.0.1", "203.0.113.5"):
        async with client_from(app, host) as http:
            assert (await http.get("/metrics")).status_code == 401
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert wrong.headers["www-authenticate"].startswith("Bearer")
            ok = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            assert "wacrm_http_requests_total" in ok.text
