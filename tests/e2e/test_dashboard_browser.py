"""The dashboard in headless Chromium (Debian's `chromium`, driven by Playwright for Python).

The app runs in a real uvicorn server on 127.0.0.1 with the marker scorer and real Redis (a prefix of this
module's own). Screenshots of each page go to artifacts/screenshots/ (git-ignored). Skipped, saying why,
where Chromium or Playwright is missing; `scripts/ensure-browser` installs them.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvicorn

from service.app import create_app
from tests.support.admin import ADMIN_PASSWORD
from tests.support.redis_server import delete_keys_under, free_port
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

# In CI (`make test` runs scripts/ensure-browser first) a missing browser is a failure, not a skip: a green run
# must mean the dashboard was driven in a real browser.
_MISSING = None
try:
    import playwright.sync_api as playwright_sync
except ImportError:
    _MISSING = "Playwright for Python is not installed"
if _MISSING is None and not shutil.which(CHROMIUM):
    _MISSING = f"no Chromium at {CHROMIUM} (run scripts/ensure-browser)"
if _MISSING is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"browser tests cannot run in CI: {_MISSING}")
    pytest.skip(_MISSING, allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(redis_url: str) -> Iterator[str]:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    settings = make_settings(REDIS_URL=redis_url, REDIS_PREFIX=prefix, ADMIN_PASSWORD=ADMIN_PASSWORD)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, scorer=MarkerScorer()),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    delete_keys_under(redis_url, prefix)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.set_default_timeout(10_000)
    yield p
    context.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def moderate(base_url: str, comment_id: str, text: str, **extra: str) -> dict:
    response = httpx.post(
        f"{base_url}/v1/moderate", json={"text": text, "id": comment_id, **extra}, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def status(base_url: str, verdict: dict) -> dict:
    """The comment's status as the site reads it: with the status token its verdict carried."""
    response = httpx.get(
        f"{base_url}/v1/comments/{verdict['id']}",
        headers={"X-Status-Token": verdict["status_token"]},
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def log_in(page, base_url: str, path: str = "/dashboard") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}{path}")
    assert "/dashboard/login" in page.url
    page.fill("input[name=user]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{path}")


def count(page, name: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.text_content(f'#counts tr[data-count="{name}"] td.hour'))


def test_anonymous_access_is_sent_to_the_login(page, base_url):
    page.goto(f"{base_url}/dashboard/review")
    assert page.url.startswith(f"{base_url}/dashboard/login?next=")
    assert page.is_visible("input[name=password]")
    shot(page, "login")


def test_moderator_reads_rejections_and_clears_the_queue(page, base_url):
    run = uuid.uuid4().hex[:6]
    assert (
        moderate(base_url, f"rej-{run}", "Honestly, this is fucking <b>ridiculous</b>.", article_id="a-1")[
            "verdict"
        ]
        == "reject"
    )
    first, second = f"rev1-{run}", f"rev2-{run}"
    first_verdict = moderate(base_url, first, "You might be wrong here [[insult=0.6]]")
    second_verdict = moderate(base_url, second, "Not sure about you [[insult=0.55]]")
    assert first_verdict["verdict"] == second_verdict["verdict"] == "review"

    log_in(page, base_url)
    approvals_before = count(page, "decision:approve")
    assert count(page, "verdict:reject") >= 1 and count(page, "verdict:review") >= 2
    assert page.text_content("svg") is not None
    shot(page, "overview-before")

    page.goto(f"{base_url}/dashboard/rejections?article=a-1")
    entry = page.locator("article.entry").first
    assert entry.locator("mark").first.text_content() == "fucking"
    # The comment's own markup is shown as text, never rendered.
    assert "<b>ridiculous</b>" in entry.locator(".text").text_content()
    assert entry.locator("b").count() == 0
    assert "obscene" in entry.locator("table.reasons").text_content()
    shot(page, "rejections")

    page.goto(f"{base_url}/dashboard/review")
    assert page.get_attribute("#review-item", "data-comment-id") == first
    shot(page, "review")
    page.keyboard.press("a")  # approve with the keyboard; the next item loads
    page.wait_for_selector(f'#review-item[data-comment-id="{second}"]')
    assert f"Approved comment {first}" in page.text_content(".flash")
    page.click("#reject")
    page.wait_for_selector("#queue-empty")
    shot(page, "review-empty")

    first_status = status(base_url, first_verdict)
    assert (first_status["status"], first_status["publish"]) == ("approved", True)
    assert status(base_url, second_verdict)["status"] == "rejected_by_moderator"

    page.goto(f"{base_url}/dashboard")
    assert count(page, "decision:approve") == approvals_before + 1
    assert page.text_content("#pending-count") == "0"
    shot(page, "overview-after")


def test_forged_form_posts_are_refused(page, base_url):
    target = f"forged-{uuid.uuid4().hex[:6]}"
    verdict = moderate(base_url, target, "Borderline [[insult=0.6]]")
    log_in(page, base_url)

    # Another site's page that posts a decision form to the dashboard: the cookie stays home (SameSite=Strict)
    # and the form has no token.
    attacker_html = (
        f'<form id="f" method="post" action="{base_url}/dashboard/review/{target}">'
        '<input name="decision" value="approve"></form><script>document.getElementById("f").submit()</script>'
    ).encode()

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(attacker_html)

        def log_message(self, *args: object) -> None:
            pass

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        # "localhost" is another site than "127.0.0.1" for the browser's cookie rules.
        page.goto(f"http://localhost:{attacker.server_address[1]}/")
        page.wait_for_url(f"{base_url}/dashboard/**")
        shot(page, "forged-post")
    finally:
        attacker.shutdown()
        attacker.server_close()
    assert "/dashboard/login" in page.url
    assert status(base_url, verdict)["status"] == "pending_review"

    # The same post from the moderator's own browser, cookie included but without the token: 403.
    response = page.request.post(
        f"{base_url}/dashboard/review/{target}", form={"decision": "approve"}, max_redirects=0
    )
    assert response.status == 403
    assert status(base_url, verdict)["status"] == "pending_review"


def test_bidi_controls_in_a_comment_are_shown_not_obeyed(page, base_url):
    """An override in a comment shows as a mark, the page's CSP lets the dashboard's own files load."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    article = f"bidi-{uuid.uuid4().hex[:6]}"
    moderate(base_url, f"{article}-c", "Open this \u202egnp.exe\u202c, fucking now", article_id=article)
    log_in(page, base_url, f"/dashboard/rejections?article={article}")
    text = page.locator("article.entry .text").first
    assert text.get_attribute("dir") == "auto"
    assert text.text_content() == "Open this U+202Egnp.exeU+202C, fucking now"
    assert page.locator("article.entry .text .bidi-control").count() == 2
    shot(page, "bidi")
    assert problems == []
