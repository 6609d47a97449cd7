"""schemathesis against the app's own OpenAPI document: every route, valid and invalid requests, with and
without a moderator's session, through the ASGI app in process (the real word list, a real Redis).

Every answer must be no server error (5xx) and conform to what the document declares for that route: its
status code, content type, headers and body schema (service/api/openapi.py declares the error answers).
At least 1,000 requests go out per run: FUZZ_EXAMPLES per operation, generation mode and session.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.scorers import MarkerScorer

pytestmark = pytest.mark.slow

#: Examples hypothesis draws per operation and generation mode (an operation without parameters has fewer
#: distinct requests to make; hypothesis stops when it has tried them all).
FUZZ_EXAMPLES = 60
#: What one run (one session state) must have sent at least: 12 operations, two modes.
MIN_REQUESTS = 500

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _send(client: TestClient, case: Any, headers: dict[str, str]) -> httpx.Response:
    """The request schemathesis made of `case`, sent through the TestClient (requests' kwargs to httpx's)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    content: bytes | str | None = None
    if "json" in kwargs:
        content = json.dumps(kwargs.pop("json")).encode("utf-8")
    elif kwargs.get("data") is not None:
        content = kwargs.pop("data")
    assert not kwargs.get("files"), "no route takes files"
    return client.request(
        kwargs["method"],
        kwargs["url"],
        headers=dict(kwargs.get("headers") or {}),
        params=kwargs.get("params"),
        content=content,
        follow_redirects=False,
    )


def _fuzz(client: TestClient, session_headers: Callable[[], dict[str, str]]) -> dict[str, Counter[int]]:
    """Every operation of `client`'s app, in both generation modes; returns the status codes each answered,
    or fails naming every operation that answered outside its declaration."""
    doc = client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    answered: dict[str, Counter[int]] = defaultdict(Counter)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = _send(client, case, session_headers())
                answered[case.operation.label][response.status_code] += 1
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # Nothing invalid to send: no parameters, or only strings of any kind (GET /healthz, ...).
                assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
            except (AssertionError, FailureGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    return answered


@pytest.fixture
def fuzz_client(
    make_client: Callable[..., TestClient], redis_url: str, key_prefix: str
) -> Iterator[TestClient]:
    # The session run logs in again after each DELETE /v1/session it generates: limits wide enough for that
    # (the login limits themselves are tested in tests/web/test_login.py and tests/test_auth.py).
    yield make_client(
        MarkerScorer(),
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        LOGIN_LIMIT_PER_IP="10000/minute",
        LOGIN_LIMIT_PER_USER="10000/minute",
    )


def _seed(client: TestClient) -> None:
    # Something to find: statuses to read and overturn, a queue to decide on.
    for i, text in enumerate(("A kind word.", "Hmm [[insult=0.6]]", "What a fucking mess.")):
        assert client.post("/v1/moderate", json={"text": text, "id": f"seed-{i}"}).status_code == 200


def _total(answered: dict[str, Counter[int]]) -> int:
    return sum(sum(statuses.values()) for statuses in answered.values())


def test_fuzz_without_a_session(fuzz_client: TestClient) -> None:
    _seed(fuzz_client)
    answered = _fuzz(fuzz_client, dict)
    assert _total(answered) >= MIN_REQUESTS
    # The moderators' routes refused every anonymous request.
    assert set(answered["GET /v1/review"]) <= {401, 422}


def test_fuzz_with_a_moderators_session(fuzz_client: TestClient) -> None:
    _seed(fuzz_client)
    csrf = login(fuzz_client)

    def session_headers() -> dict[str, str]:
        # DELETE /v1/session logs the client out: log in again before the next request.
        nonlocal csrf
        if not fuzz_client.cookies:
            csrf = login(fuzz_client)
        return csrf

    answered = _fuzz(fuzz_client, session_headers)
    assert _total(answered) >= MIN_REQUESTS
    # The session was there: the queue was read and decisions reached the decision log.
    assert answered["GET /v1/review"][200] > 0
    assert answered["POST /v1/review/{comment_id}"][404] > 0
