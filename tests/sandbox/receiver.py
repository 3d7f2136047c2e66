"""A tiny webhook receiver standing in for the CRM: records raw bodies, answers chosen codes."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from fastapi import FastAPI, Request, Response

from wacrm.sandbox.server import ThreadedServer


class Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answers: list[int] = []  # status codes to answer next (then 200)
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/webhooks/whatsapp")
        async def hook(request: Request) -> Response:
            raw = await request.body()
            with self.lock:
                code = self.answers.pop(0) if self.answers else 200
                self.calls.append(
                    {
                        "raw": raw,
                        "json": json.loads(raw),
                        "headers": dict(request.headers),
                        "at": time.time(),
                        "answered": code,
                    }
                )
            return Response(status_code=code)

        self.server = ThreadedServer(app)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/webhooks/whatsapp"

    def statuses(self, wamid: str | None = None) -> list[dict[str, Any]]:
        out = []
        for call in self.calls:
            for change in call["json"]["entry"][0]["changes"]:
                for status in change["value"].get("statuses", []):
                    if wamid is None or status["id"] == wamid:
                        out.append({**status, "_call": call})
        return out

    def wait(self, predicate: Any, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError(f"condition not met within {timeout}s; calls: {len(self.calls)}")
