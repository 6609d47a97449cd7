"""service/web/bidi.py and the templates: a comment's bidi controls are shown, never obeyed."""

from __future__ import annotations

from tests.support.admin import dashboard_login

RLO, PDF, RLI = "\u202e", "\u202c", "\u2067"


def test_reveal_escapes_and_names_each_control():
    from service.web.bidi import reveal

    shown = str(reveal(f"<b>x</b>{RLO}gnp.exe{PDF}"))
    assert shown.startswith('&lt;b&gt;x&lt;/b&gt;<span class="bidi-control"')
    assert 'title="U+202E RIGHT-TO-LEFT OVERRIDE">U+202E</span>gnp.exe' in shown
    assert RLO not in shown and PDF not in shown
    assert str(reveal("plain, עברית, ١٢٣")) == "plain, עברית, ١٢٣"


def test_overrides_in_a_comment_cannot_rearrange_the_review_page(app):
    # Before: the comment's RLO reversed the rest of its line on the moderator's screen, and its text ran
    # into the page around it.
    text = f"Nice article [[insult=0.6]] {RLO}tnemmoc ruoy ssorc{PDF} and {RLI}more"
    # Ids keep to a safe alphabet (no controls at all); the article id is free text and shown revealed.
    response = app.post("/v1/moderate", json={"text": text, "id": "bidi-1", "article_id": f"a{RLO}1"})
    assert response.status_code == 200
    dashboard_login(app)
    for path in ("/dashboard/review", "/dashboard/rejections?verdict=review"):
        page = app.get(path).text
        assert RLO not in page and PDF not in page and RLI not in page
        assert "U+202E</span>tnemmoc ruoy ssorc<span" in page
        assert '<div class="text" dir="auto">' in page
        assert '<bdi>a<span class="bidi-control"' in page
