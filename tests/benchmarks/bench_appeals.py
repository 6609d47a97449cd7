"""Appeals benchmark (issue 14): what an appeal, a statement and the dashboard's export cost, on real Redis.

Through the ASGI app (httpx's ASGITransport, the app's own lifespan, the marker scorer: no model), on
$TEST_REDIS_URL (default redis://127.0.0.1:6379/15) under a prefix of its own, deleted afterwards:

1. COMMENTS rejected comments are moderated (batches of 100), each with its appeal token;
2. one client reads STATEMENTS statements (GET /v1/comments/{id}/statement), one after another: p50 / p99;
3. one client appeals APPEALS of them (POST /v1/comments/{id}/appeal): p50 / p99, and the queue then holds
   them all;
4. a logged-in moderator exports the whole range (GET /dashboard/statements.jsonl): statements a second and
   bytes a line (ASGITransport hands over the body whole, so this times the export, not its streaming).

Run: `python -m tests.benchmarks.bench_appeals` (under a minute on 2 cores).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
import uuid
from typing import Any

import httpx

from service.app import create_app
from tests.support.redis_server import DEFAULT_TEST_REDIS_URL, delete_keys_under
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

COMMENTS = 3000
STATEMENTS = 500
APPEALS = 500
TEXT = "This is fucking ridiculous, comment {n}."


def _ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.2f} ms"


async def run(redis_url: str) -> int:
    prefix = f"bench-appeals-{uuid.uuid4().hex[:8]}:"
    password = secrets.token_urlsafe(24)
    settings = make_settings(
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        LOG_LEVEL="ERROR",
        ADMIN_PASSWORD=password,
        SESSION_SECRET=secrets.token_urlsafe(48),
        STATEMENT_EXPORT_MAX=COMMENTS,
    )
    app = create_app(settings, scorer=MarkerScorer())
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client,
        ):
            verdicts: list[dict[str, Any]] = []
            for start in range(0, COMMENTS, 100):
                batch = [{"id": f"b-{n}", "text": TEXT.format(n=n)} for n in range(start, start + 100)]
                response = await client.post("/v1/moderate/batch", json={"comments": batch})
                verdicts += response.json()["results"]
            assert all(v["verdict"] == "reject" and v["appeal_token"] for v in verdicts)

            timings: list[float] = []
            for v in verdicts[:STATEMENTS]:
                began = time.perf_counter()
                response = await client.get(
                    f"/v1/comments/{v['id']}/statement", headers={"X-Appeal-Token": v["appeal_token"]}
                )
                timings.append(time.perf_counter() - began)
                assert response.status_code == 200
            print(f"statement: {STATEMENTS} reads, p50 {_ms(timings, 0.5)}, p99 {_ms(timings, 0.99)}")

            timings = []
            for v in verdicts[-APPEALS:]:
                began = time.perf_counter()
                response = await client.post(
                    f"/v1/comments/{v['id']}/appeal",
                    json={
                        "appeal_token": v["appeal_token"],
                        "explanation": "I was quoting the article. " * 20,
                    },
                )
                timings.append(time.perf_counter() - began)
                assert response.status_code == 202, response.text
            print(f"appeal: {APPEALS} appeals, p50 {_ms(timings, 0.5)}, p99 {_ms(timings, 0.99)}")

            login = await client.post("/v1/session", json={"user": "admin", "password": password})
            assert login.status_code == 200
            pending = (await client.get("/v1/review")).json()["pending"]
            assert pending == APPEALS, pending

            began = time.perf_counter()
            lines, size = 0, 0
            async with client.stream("GET", "/dashboard/statements.jsonl") as response:
                async for line in response.aiter_lines():
                    lines += 1
                    size += len(line) + 1
            seconds = time.perf_counter() - began
            assert lines == COMMENTS, lines
            print(
                f"export: {lines} statements in {seconds:.2f} s ({lines / seconds:.0f}/s), "
                f"{size / lines:.0f} bytes a line"
            )
    finally:
        delete_keys_under(redis_url, prefix)
    return 0


def main() -> int:
    return asyncio.run(run(os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)))


if __name__ == "__main__":
    sys.exit(main())
