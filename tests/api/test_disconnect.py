"""A client that hangs up while its comment waits for the model: the comment is dropped, never scored.

Runs a real uvicorn server (the behaviour depends on the server delivering `http.disconnect`) with a gated
deterministic scorer holding the model busy.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import uvicorn

from service.app import create_app
from tests.support.redis_server import free_port
from tests.support.scorers import GatedScorer
from tests.support.settings import make_settings


def _wait_for(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_queued_comment_of_a_departed_client_is_dropped():
    scorer = GatedScorer()
    app = create_app(make_settings(BATCH_MAX_SIZE=1, BATCH_MAX_WAIT_MS=0), scorer=scorer)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started)
        base = f"http://127.0.0.1:{port}"
        first: dict[str, int] = {}
        busy = threading.Thread(
            target=lambda: first.update(
                status=httpx.post(f"{base}/v1/moderate", json={"text": "first"}, timeout=30).status_code
            )
        )
        busy.start()
        assert scorer.entered.wait(10)  # the model is busy with "first"

        body = json.dumps({"text": "second, whose author leaves"}).encode()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /v1/moderate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        batcher = app.state.pipeline.batcher
        _wait_for(lambda: batcher.waiting == 1)
        sock.close()  # the client hangs up while its comment waits
        _wait_for(lambda: batcher.waiting == 0, timeout_s=5)

        scorer.release.set()
        busy.join(10)
        assert first == {"status": 200}
        assert batcher.stats.dropped == 1
        assert all("second" not in text for call in scorer.calls for text in call)
        # The service goes on answering.
        assert httpx.post(f"{base}/v1/moderate", json={"text": "third"}, timeout=30).status_code == 200
    finally:
        scorer.release.set()
        server.should_exit = True
        thread.join(10)
