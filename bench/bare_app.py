"""The ceiling for webhook ingest: an endpoint that only reads and parses the same JSON (orjson).

Served by uvicorn with the CRM's settings (same workers, access log off), so the ratio
CRM / bare is the share of the machine's HTTP+JSON ceiling the CRM keeps while storing durably.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
async def healthz() -> Response:
    return Response(content=b'{"ok":true}', media_type="application/json")


@app.post("/webhooks/whatsapp")
async def receive(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(content=b'{"ok":true}', media_type="application/json")
