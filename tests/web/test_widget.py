"""/widget.js, /widget.css and /demo through the real app (issue 14): content types, caching and the headers a
site's page needs to load them; the demo page's CSP; the demo site's server-side check of a posted comment
(by the comment's status, or by moderating it itself), and the demo off in production."""

from __future__ import annotations

import re

import pytest

from tests.support.settings import production_overrides

ASSETS = [("/widget.js", "text/javascript; charset=utf-8"), ("/widget.css", "text/css; charset=utf-8")]


@pytest.mark.parametrize(("path", "media_type"), ASSETS)
def test_the_widget_files_are_served_for_any_sites_page(client, path, media_type):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "etag" in response.headers
    # Revalidation costs no body.
    again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_widget_uses_no_framework_cdn_or_inline_style(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    script = response.text
    assert "/v1/precheck" in script and "/v1/moderate" in script
    # Nothing fetched from elsewhere: the only URLs it builds are on the service's own base.
    assert not re.search(r"https?://(?!moderation\.example)", script)
    assert "import " not in script and "require(" not in script
    # A page's CSP may forbid inline styles: the widget never writes a style attribute or element.
    assert 'setAttribute("style"' not in script and 'createElement("style")' not in script
    assert ".innerHTML" not in script  # comment text goes in as text, never as markup


@pytest.mark.parametrize(("path", "media_type"), ASSETS)
def test_the_widget_files_are_served_in_production_too(make_client, path, media_type):
    client = make_client(**production_overrides())
    assert client.get(path, headers={"Host": "testserver"}).headers["content-type"] == media_type


def test_the_demo_page_loads_the_widget_under_the_dashboards_csp(client):
    response = client.get("/demo")
    assert response.status_code == 200
    page = response.text
    assert '<script src="/widget.js" data-form="#comment-form"' in page
    assert 'action="/demo/comments"' in page
    # No inline script or style: the page works under the service's own Content-Security-Policy.
    assert "<style" not in page and "style=" not in page and re.search(r"<script>(?!</script>)", page) is None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "form-action 'self'" in csp
    assert client.get("/demo/demo.css").headers["content-type"] == "text/css; charset=utf-8"


def _post(client, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/demo/comments", data=fields)


def _outcome(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    found = re.search(r'data-outcome="(\w+)" data-checked="(\w*)"', response.text)
    assert found is not None, response.text
    return found.group(1), found.group(2)


def test_the_demo_server_checks_the_comments_status_with_its_token(client):
    verdict = client.post("/v1/moderate", json={"text": "A kind word.", "id": "w-demo-accept"}).json()
    posted = _post(
        client,
        comment="A kind word.",
        moderation_comment_id=verdict["id"],
        moderation_status_token=verdict["status_token"],
        moderation_verdict="accept",
    )
    assert _outcome(posted) == ("posted", "status")
    held = client.post("/v1/moderate", json={"text": "Only a dumbass would.", "id": "w-demo-held"}).json()
    response = _post(
        client,
        comment="Only a dumbass would.",
        moderation_comment_id=held["id"],
        moderation_status_token=held["status_token"],
    )
    assert _outcome(response) == ("held", "status")


def test_the_demo_server_trusts_no_verdict_the_browser_claims(client):
    # A forged token (or none: the service was away) is not believed: the server moderates the text itself.
    forged = _post(
        client,
        comment="What a sh1t idea.",
        moderation_comment_id="w-forged",
        moderation_status_token="not-a-token",
        moderation_verdict="accept",
    )
    assert _outcome(forged) == ("refused", "server")
    assert _outcome(_post(client, comment="A kind word.")) == ("posted", "server")


def test_the_demo_server_escapes_the_comment(client):
    response = _post(client, comment="<script>alert(1)</script> is a fine word")
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_an_empty_demo_comment_is_refused_with_a_page(client):
    response = _post(client, comment="  ")
    assert response.status_code == 400
    assert _outcome(response) == ("empty", "")


def test_the_demo_is_off_in_production_unless_asked_for(make_client):
    off = make_client(**production_overrides())
    assert off.get("/demo").status_code == 404
    assert off.post("/demo/comments", data={"comment": "hi"}).status_code == 404
    on = make_client(**production_overrides(DEMO_PAGE=True))
    assert on.get("/demo").status_code == 200
