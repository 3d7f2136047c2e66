"""A local webhook receiver for tests: answers, fails, times out or answers slowly on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """`mode`: 'ok' (200), 'fail' (500), 'slow' (200 after `delay` s), 'hang' (sleeps `delay` s)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                mode, delay = receiver.mode, receiver.delay
                if mode in ("slow", "hang"):
                    time.sleep(delay)
                with receiver.lock:
                    receiver.received.append(
                        {
                            "headers": dict(self.headers),
                            "body": body,
                            "json": json.loads(body),
                            "mode": mode,
                        }
                    )
                status = 500 if mode == "fail" else 200
                text = b"receiver is down" if mode == "fail" else b"ok"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, event: str | None = None, mode: str = "ok") -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.received
                if r["mode"] in (mode, "slow") and (event is None or r["json"]["event"] == event)
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
