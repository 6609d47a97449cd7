"""A real HTTP receiver for the webhook's tests: a small threaded `http.server` on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that answers `fail_status` to the first `failures` posts, then 204."""

    def __init__(self, failures: int = 0, fail_status: int = 500) -> None:
        self.failures, self.fail_status = failures, fail_status
        self.requests: list[tuple[dict[str, str], bytes, int]] = []  # headers, raw body, status answered
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would (every answer has a length)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver.fail_status if len(receiver.requests) < receiver.failures else 204
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"receiver got {len(self.requests)} of {count} requests"
            time.sleep(0.02)

    async def until(self, count: int, timeout_s: float = 10.0) -> None:
        """`wait_for` for a test running in the event loop (which the worker under test needs)."""
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"receiver got {len(self.requests)} of {count} requests"
            await asyncio.sleep(0.02)

    @property
    def statuses(self) -> list[int]:
        return [status for _, _, status in self.requests]

    def delivered(self) -> list[str]:
        """The delivery ids answered with a 2xx, in order (a repeat shows twice)."""
        return [h["x-moderation-delivery"] for h, _, status in self.requests if 200 <= status < 300]

    def payloads(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, body, _ in self.requests]
