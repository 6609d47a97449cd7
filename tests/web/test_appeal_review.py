"""The review page shows an appeal as one (issue 14): marked, with the commenter's explanation escaped and
its bidi controls shown, and the moderator's decision there answers it."""

from __future__ import annotations

from tests.support.admin import csrf_token, dashboard_login
from tests.support.comments import moderate, status


def test_the_review_page_shows_the_appeal_and_its_explanation(app):
    verdict = moderate(app, "a-1", "This is fucking ridiculous.")
    held = moderate(app, "a-2", "Hmm [[insult=0.6]]")
    explanation = "I quoted <script>alert(1)</script> the \u202eheadline & its author."
    body = {"appeal_token": verdict["appeal_token"], "explanation": explanation}
    assert app.post("/v1/comments/a-1/appeal", json=body).status_code == 202
    dashboard_login(app)

    page = app.get("/dashboard/review").text
    # The held comment came first, so the appeal is next in line, marked as one.
    assert 'data-comment-id="a-2"' in page
    assert 'a-1</bdi></code> <span class="badge appeal">appeal</span>' in page
    token = csrf_token(page)
    app.post("/dashboard/review/a-2", data={"decision": "approve", "csrf_token": token})
    assert status(app, held)["status"] == "approved"

    page = app.get("/dashboard/review").text
    assert 'data-comment-id="a-1"' in page and 'id="appeal"' in page
    assert "The commenter contests the rejection" in page
    assert "<script>alert(1)</script>" not in page
    assert "I quoted &lt;script&gt;alert(1)&lt;/script&gt; the " in page
    assert "\u202e" not in page and "U+202E" in page
    assert "&amp; its author." in page
    assert "This is <mark>fucking</mark> ridiculous." in page  # what was rejected, to judge it again

    app.post("/dashboard/review/a-1", data={"decision": "reject", "csrf_token": csrf_token(page)})
    assert status(app, verdict)["status"] == "rejected_by_moderator"
    assert 'id="queue-empty"' in app.get("/dashboard/review").text


def test_a_comment_that_is_no_appeal_is_not_marked(app):
    moderate(app, "a-3", "Hmm [[insult=0.6]]")
    dashboard_login(app)
    page = app.get("/dashboard/review").text
    assert 'data-comment-id="a-3"' in page and 'id="appeal"' not in page
