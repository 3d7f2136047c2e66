"""Health, readiness, metrics and body limits."""

from __future__ import annotations


async def test_healthz_and_readyz(client) -> None:
    assert (await client.get("/healthz")).text == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True


async def test_readyz_reports_schema_mismatch(client, app, sync_conn) -> None:
    sync_conn.execute(
        "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"
    )
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "schema" in ready.json()["database"]


async def test_metrics_count_requests_by_route(client) -> None:
    await client.get("/healthz")
    body = (await client.get("/metrics")).text
    assert 'wacrm_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "wacrm_http_request_duration_seconds_bucket" in body


async def test_body_too_large_is_refused_early(client, settings) -> None:
    response = await client.post("/healthz", content=b"x" * (settings.max_body_bytes + 1))
    assert response.status_code == 413


async def test_uploads_have_the_upload_limit(client, settings) -> None:
    """The chat composer's attachment and the API's media upload may exceed the body limit."""
    big = b"x" * (settings.max_body_bytes + 1)
    assert (await client.post("/chat/1/send", content=big)).status_code != 413
    assert (await client.post("/api/v1/media", content=big)).status_code != 413
    assert (await client.post("/api/v1/auth/login", content=big)).status_code == 413


async def test_metrics_show_the_webhook_journal_backlog(client, sync_conn) -> None:
    sync_conn.execute(
        "INSERT INTO webhook_journal (phone_number_id, body, received_at)"
        " VALUES ('1', '{}', now() - interval '90 seconds'), ('1', '{}', now())"
    )
    sync_conn.execute(
        "INSERT INTO webhook_journal (phone_number_id, body, status) VALUES ('1', '{}', 'processed')"
    )
    body = (await client.get("/metrics")).text
    assert "wacrm_webhook_journal_waiting 2.0" in body
    oldest = next(
        line
        for line in body.splitlines()
        if line.startswith("wacrm_webhook_journal_oldest_waiting_seconds ")
    )
    assert 89 <= float(oldest.split()[1]) < 300
