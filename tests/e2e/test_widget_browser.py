"""The commenter's widget on /demo, in headless Chromium against `moderation serve` as a process (issue 14).

The service runs without a model (MODERATION_MODEL=none): the shipped word lists decide, so "sh1t" is a
disguised obscenity (reject, obscene) and "dumbass" a word of the review tier (review, personal). Redis is
the real one, under this module's own prefix. Besides /demo (same origin), another site's page on a server of
its own (another origin, allowed by MODERATION_CORS_ORIGINS) embeds the widget as a site would. Every test
but those that take the service away checks that the page logged no JavaScript error. Screenshots of each
state go to artifacts/screenshots/widget-*.png (git-ignored); widget-rejected.png is the README's.
"""

from __future__ import annotations

import contextlib
import html
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest

from tests.e2e.test_dashboard_browser import CHROMIUM, SCREENSHOTS, playwright_sync
from tests.e2e.test_serve import Server, _env, _start, _wait_ready
from tests.support.admin import ADMIN_PASSWORD
from tests.support.redis_server import delete_keys_under, free_port

pytestmark = pytest.mark.browser

OBSCENE = "What a sh1t idea, honestly."
HELD = "Only a dumbass would close it on Mondays."
CLEAN = "Lovely project. I will bring back some bean seeds in the autumn."


class Site:
    """Another site's page (another origin: a port of its own) with the widget on its comment form, served by a
    tiny server of its own; its form posts back to it, which echoes what it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.pages: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                kind = "text/javascript" if self.path.endswith(".js") else "text/html; charset=utf-8"
                self._send(body, kind)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fields = parse_qs(self.rfile.read(length).decode())
                items = "".join(
                    f'<li data-name="{html.escape(k)}">{html.escape(v[0])}</li>'
                    for k, v in sorted(fields.items())
                )
                self._send(
                    f'<!doctype html><link rel="icon" href="data:,"><title>posted</title><ul>{items}</ul>'.encode(),
                    "text/html",
                )

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, path: str, script: str) -> str:
        self.pages[path] = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
            "<title>Another site</title></head><body><h1>Another site's article</h1>"
            '<form id="talk" method="post" action="/posted"><textarea name="body" rows="4"></textarea>'
            f'<button type="submit">Send</button></form>{script}</body></html>'
        ).encode()
        return f"{self.origin}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, redis_url: str, site: Site) -> Iterator[Server]:
    prefix = f"test-widget-{uuid.uuid4().hex[:8]}:"
    port = free_port()
    log = tmp_path_factory.mktemp("widget") / "server.log"
    env = _env(
        MODERATION_MODEL="none",
        REDIS_URL=redis_url,
        MODERATION_REDIS_PREFIX=prefix,
        MODERATION_ADMIN_PASSWORD=ADMIN_PASSWORD,
        # The other site's pages may call the widget's endpoints (CORS).
        MODERATION_CORS_ORIGINS=site.origin,
    )
    server = Server(_start(["serve"], env, log, port), port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
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


class Errors(list[str]):
    """What the page said went wrong: uncaught exceptions and console errors."""


@pytest.fixture
def errors() -> Errors:
    return Errors()


@pytest.fixture
def page(browser, errors):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 900, "height": 1100})
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    p.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text} at {msg.location}") if msg.type == "error" else None,
    )
    yield p
    context.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"widget-{name}.png"), full_page=True)


def open_demo(page, service: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{service.base}/demo")
    # The widget has loaded and fetched the notice.
    page.wait_for_selector(".cmw-notice:not([hidden])")


def type_comment(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.click("#comment")
    page.keyboard.type(text, delay=15)


def test_typing_a_disguised_obscenity_underlines_it_with_its_clause(page, service, errors):
    open_demo(page, service)
    assert "refrain from using derogatory, personal, or obscene words" in page.text_content(".cmw-notice")
    type_comment(page, OBSCENE)
    mark = page.wait_for_selector("mark.cmw-span")
    assert mark.text_content() == "sh1t"
    assert mark.get_attribute("data-clause") == "obscene"
    assert "obscene words" in (mark.get_attribute("title") or "")
    # Underlined, and said in words too: never colour alone.
    assert "underline" in mark.evaluate("m => getComputedStyle(m).textDecorationLine")
    item = page.text_content(".cmw-list li")
    assert "sh1t" in item and "obscene words" in item
    assert page.text_content(".cmw-live") == (
        "As it stands, this comment would not be published (obscene words). You can rephrase it before posting."
    )
    # The field is described by the notice and the live region (a screen reader reads them with it).
    described = page.get_attribute("#comment", "aria-describedby") or ""
    assert described.split() == ["cmw-1-notice", "cmw-1-live"]
    assert page.get_attribute(".cmw-live", "aria-live") == "polite"
    shot(page, "precheck")

    # Rephrased: the marks go.
    page.fill("#comment", "What a poor idea, honestly.")
    page.wait_for_selector(".cmw-preview", state="hidden")
    assert page.get_attribute(".cmw", "data-state") == "clean"
    assert errors == []


def test_a_rejected_comment_shows_the_notice_and_keeps_the_text(page, service, errors):
    open_demo(page, service)
    type_comment(page, OBSCENE)
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector('.cmw[data-state="rejected"]')
    assert page.url == f"{service.base}/demo"
    assert page.input_value("#comment") == OBSCENE
    live = page.text_content(".cmw-live")
    assert "not published because it contains obscene words" in live
    assert page.text_content("mark.cmw-span") == "sh1t"
    # The message takes the focus, so a screen reader reads it at once.
    assert page.evaluate("document.activeElement.classList.contains('cmw-live')")
    shot(page, "rejected")
    assert errors == []


def test_a_clean_comment_is_posted(page, service, errors):
    open_demo(page, service)
    type_comment(page, CLEAN)
    page.click("#comment-form button[type=submit]")
    page.wait_for_url(f"{service.base}/demo/comments")
    outcome = page.wait_for_selector("#outcome")
    assert outcome.text_content() == "Comment posted"
    # The demo site's server confirmed it by the comment's status, from the widget's hidden inputs.
    assert outcome.get_attribute("data-checked") == "status"
    assert CLEAN in page.text_content("blockquote")
    shot(page, "posted")
    assert errors == []


def test_a_held_comment_says_it_awaits_a_moderator(page, service, errors):
    open_demo(page, service)
    type_comment(page, HELD)
    page.wait_for_selector('mark.cmw-span[data-clause="personal"]')
    assert "held for a moderator" in page.text_content(".cmw-list li")
    page.click("#comment-form button[type=submit]")
    page.wait_for_url(f"{service.base}/demo/comments")
    outcome = page.wait_for_selector("#outcome")
    assert outcome.text_content() == "Comment awaits a moderator"
    assert outcome.get_attribute("data-checked") == "status"
    shot(page, "held")
    assert errors == []


def test_the_form_still_submits_with_the_service_away(page, service, errors):
    # Every call to the service's API fails as if it were stopped; the page and the site's server stay up.
    page.route("**/v1/**", lambda route: route.abort("connectionrefused"))
    open_demo_without_notice(page, service)
    type_comment(page, OBSCENE)
    page.click("#comment-form button[type=submit]")
    page.wait_for_url(f"{service.base}/demo/comments")
    outcome = page.wait_for_selector("#outcome")
    # No verdict came with the form: the site's own server-side check decided.
    assert outcome.get_attribute("data-checked") == "server"
    assert outcome.text_content() == "Comment not published"
    shot(page, "service-away")
    assert not [e for e in errors if e.startswith("pageerror")]


def test_the_form_submits_when_the_service_is_slow(page, service, errors):
    # The service answers nothing for longer than the widget waits (2 s): the form goes anyway.
    held: list[object] = []
    page.route("**/v1/moderate", lambda route: held.append(route))
    open_demo(page, service)
    page.fill("#comment", CLEAN)
    page.click("#comment-form button[type=submit]")
    page.wait_for_url(f"{service.base}/demo/comments", timeout=6_000)
    assert page.get_attribute("#outcome", "data-checked") == "server"
    assert held, "the widget never asked the service"
    for route in held:  # answer what was held, so that nothing is left pending when the page closes
        with contextlib.suppress(playwright_sync.Error):
            route.abort()  # type: ignore[attr-defined]
    assert not [e for e in errors if e.startswith("pageerror")]


def open_demo_without_notice(page, service: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{service.base}/demo")
    page.wait_for_selector(".cmw", state="attached")
    assert page.is_hidden(".cmw-notice")


def admin(service: Server) -> httpx.Client:
    client = httpx.Client(base_url=service.base, timeout=10)
    response = client.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def test_an_appeal_reaches_the_queue_and_the_decision_reaches_the_commenter(page, service, errors):
    open_demo(page, service)
    text = f"{OBSCENE} ({uuid.uuid4().hex[:6]})"
    type_comment(page, text)
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector(".cmw-appeal:not([hidden])")
    statement = page.get_attribute(".cmw-statement", "href") or ""
    assert "/statement.html?appeal_token=" in statement
    comment_id = statement.split("/v1/comments/")[1].split("/")[0]
    assert page.request.get(statement).status == 200  # the statement of reasons the widget links to
    page.fill(".cmw-explanation", "It is a quote from the article's headline writer, not an insult.")
    page.click(".cmw-appeal button[type=submit]")
    page.wait_for_selector('.cmw[data-state="appealed"]')
    assert "moderator will read your comment" in page.text_content(".cmw-live")
    shot(page, "appealed")

    moderator = admin(service)
    try:
        queue = moderator.get("/v1/review", params={"limit": 200}).json()
        assert comment_id in [item["comment_id"] for item in queue["items"]]
        decided = moderator.post(f"/v1/review/{comment_id}", json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
    finally:
        moderator.close()

    page.click(".cmw-status button")
    page.wait_for_selector('.cmw[data-status="approved"]')
    assert "A moderator approved your comment" in page.text_content(".cmw-live")
    shot(page, "appeal-decided")
    assert errors == []


def test_on_another_sites_page_the_widget_works_across_origins(page, service, site, errors):
    url = site.page("/article", f'<script src="{service.base}/widget.js" data-form="#talk" defer></script>')
    page.goto(url)
    page.wait_for_selector(".cmw-notice:not([hidden])")  # GET /v1/notice, cross-origin
    page.click("textarea")
    page.keyboard.type(OBSCENE, delay=15)
    assert (
        page.wait_for_selector("mark.cmw-span").text_content() == "sh1t"
    )  # the pre-check's preflight passed
    page.fill("textarea", CLEAN)
    page.click("#talk button")
    page.wait_for_url(f"{site.origin}/posted")
    received = {li.get_attribute("data-name"): li.text_content() for li in page.query_selector_all("li")}
    assert received["body"] == CLEAN
    assert received["moderation_verdict"] == "accept"
    assert received["moderation_comment_id"].startswith("w-") and len(received["moderation_comment_id"]) == 22
    # What the site's server does next: read the comment's status with the token the form carried.
    status = httpx.get(
        f"{service.base}/v1/comments/{received['moderation_comment_id']}",
        headers={"X-Status-Token": received["moderation_status_token"]},
        timeout=10,
    ).json()
    assert (status["status"], status["publish"]) == ("accepted", True)
    assert errors == []


def test_with_the_service_stopped_the_other_sites_form_still_submits(page, site, service, errors):
    # The widget served by the site itself, pointed at a service that is not running at all.
    site.pages["/widget.js"] = page.request.get(f"{service.base}/widget.js").body()
    stopped = f"http://127.0.0.1:{free_port()}"
    url = site.page(
        "/offline", f'<script src="/widget.js" data-form="#talk" data-service="{stopped}" defer></script>'
    )
    page.goto(url)
    page.wait_for_selector(".cmw", state="attached")
    page.fill("textarea", OBSCENE)
    page.click("#talk button")
    page.wait_for_url(f"{site.origin}/posted")
    received = {li.get_attribute("data-name"): li.text_content() for li in page.query_selector_all("li")}
    # Unchecked: no verdict travels with it, and the site's server-side check decides.
    assert received == {"body": OBSCENE}
    assert not [e for e in errors if e.startswith("pageerror")]


def test_the_widget_works_from_the_keyboard(page, service, errors):
    open_demo(page, service)
    page.focus("#comment")
    page.keyboard.type(OBSCENE)
    page.keyboard.press("Tab")  # to the form's button
    page.keyboard.press("Enter")
    page.wait_for_selector('.cmw[data-state="rejected"]')
    # The message has the focus; the next Tab reaches nothing hidden, and no mark is a stop on the way.
    assert page.evaluate("document.activeElement.classList.contains('cmw-live')")
    page.keyboard.press("Tab")
    if page.is_visible(".cmw-appeal"):
        assert page.evaluate("document.activeElement.classList.contains('cmw-explanation')")
    assert errors == []
