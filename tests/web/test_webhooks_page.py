"""/dashboard/webhooks: dead-lettered deliveries, newest first, and the "retry" form that delivers one again;
the outbox's depth and dead letters on /metrics. Through the app with a logged-in session and a real
receiver, on Redis and without it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.admin import ADMIN_PASSWORD, csrf_token, dashboard_login, login
from tests.support.receiver import Receiver
from tests.support.scorers import MarkerScorer

SECRET = "webhook-secret-for-tests"
_RETRY_FORM = re.compile(r'action="(/dashboard/webhooks/dead/[0-9]+-[0-9]+/retry)"')


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=100, fail_status=503)
    yield r
    r.close()


@pytest.fixture(params=["redis", "memory"])
def app(
    request: pytest.FixtureRequest,
    make_client: Callable[..., TestClient],
    redis_url: str,
    key_prefix: str,
    receiver: Receiver,
) -> TestClient:
    store = {"REDIS_URL": redis_url, "REDIS_PREFIX": key_prefix} if request.param == "redis" else {}
    return make_client(
        MarkerScorer(),
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        WEBHOOK_URL=receiver.url,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_MAX_ATTEMPTS=2,
        WEBHOOK_BACKOFF_S=0.05,
        WEBHOOK_POLL_S=0.05,
        **store,
    )


def _decide(app: TestClient, comment_id: str) -> None:
    app.post("/v1/moderate", json={"text": "Borderline <b> [[insult=0.6]]", "id": comment_id})
    response = app.post(f"/v1/review/{comment_id}", json={"decision": "reject"}, headers=login(app))
    assert response.status_code == 200, response.text


def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _metric(app: TestClient, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", app.get("/metrics").text, re.MULTILINE)
    assert found is not None, f"{name} not on /metrics"
    return float(found.group(1))


def test_the_page_needs_a_moderator(app: TestClient) -> None:
    response = app.get("/dashboard/webhooks", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fwebhooks"


def test_a_dead_letter_is_listed_and_its_retry_delivers_it(app: TestClient, receiver: Receiver) -> None:
    _decide(app, "older")
    receiver.wait_for(2)
    _until(lambda: _metric(app, "moderation_webhook_dead_letters") == 1)
    _decide(app, "newer")
    receiver.wait_for(4)
    _until(lambda: _metric(app, "moderation_webhook_dead_letters") == 2)
    assert _metric(app, "moderation_webhook_outbox_depth") == 0

    dashboard_login(app)
    page = app.get("/dashboard/webhooks").text
    assert 'href="/dashboard/webhooks" class="current"' in page
    assert page.index("newer") < page.index("older")  # newest first
    assert page.count("HTTP 503") == 2 and "2 attempts" in page
    assert "2 dead letters kept" in page
    forms = _RETRY_FORM.findall(page)
    assert len(forms) == 2

    # Without the session's token the form is refused and nothing is sent again.
    assert app.post(forms[1], data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403
    time.sleep(0.2)
    assert len(receiver.requests) == 4

    receiver.failures = 0  # the site is back
    done = app.post(forms[1], data={"csrf_token": csrf_token(page)})
    assert done.status_code == 200 and "The delivery is queued again." in done.text
    receiver.wait_for(5)
    assert receiver.statuses[-1] == 204 and receiver.payloads()[-1]["comment_id"] == "older"
    # The same delivery as before: the receiver can tell it is a repeat of what it refused.
    assert (
        receiver.requests[-1][0]["x-moderation-delivery"] == receiver.requests[0][0]["x-moderation-delivery"]
    )
    _until(lambda: _metric(app, "moderation_webhook_dead_letters") == 1)
    page = app.get("/dashboard/webhooks").text
    assert len(_RETRY_FORM.findall(page)) == 1 and "newer" in page and "older" not in page

    # A second click on the old form (a stale page) does not send it twice.
    again = app.post(forms[1], data={"csrf_token": csrf_token(page)})
    assert "not a dead letter" in again.text
    time.sleep(0.2)
    assert len(receiver.requests) == 5


def test_a_hand_made_retry_is_refused_politely(app: TestClient) -> None:
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/webhooks").text)
    answer = app.post("/dashboard/webhooks/dead/not-an-id/retry", data={"csrf_token": token})
    assert answer.status_code == 200 and "not a dead letter&#39;s id" in answer.text
    answer = app.post("/dashboard/webhooks/dead/1-0/retry", data={"csrf_token": token})
    assert answer.status_code == 200 and "is not a dead letter" in answer.text


def test_without_a_webhook_the_page_says_so(make_client: Callable[..., TestClient]) -> None:
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    dashboard_login(client)
    assert 'id="no-webhook"' in client.get("/dashboard/webhooks").text
    assert "moderation_webhook_outbox_depth" not in client.get("/metrics").text


def test_older_dead_letters_are_a_page_further(
    make_client: Callable[..., TestClient], receiver: Receiver
) -> None:
    client = make_client(
        MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD, WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET
    )
    outbox = client.app.state.webhook_outbox.outbox  # type: ignore[attr-defined]

    async def dead_letters() -> None:
        for n in range(27):
            await outbox.enqueue(f'{{"comment_id": "dead-{n:02d}"}}', f"d{n}")
            [entry] = await outbox.read_new("by-hand", 1)
            await outbox.dead_letter(entry, 6, "HTTP 500")

    # Each written and taken by hand in one step (the memory outbox never yields between them), so the
    # app's own worker never gets them.
    assert client.portal is not None
    client.portal.call(dead_letters)
    dashboard_login(client)
    first = client.get("/dashboard/webhooks").text
    assert len(_RETRY_FORM.findall(first)) == 25 and "dead-26" in first and "dead-01" not in first
    older = re.search(r'id="older" href="([^"]+)"', first)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert len(_RETRY_FORM.findall(second)) == 2 and "dead-01" in second and "dead-00" in second
    assert 'id="older"' not in second
