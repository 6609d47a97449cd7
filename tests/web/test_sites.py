"""The dashboard's rejections page, site by site: each comment says which site's key it came with, and the
page filters by site (the sites with keys offered as suggestions)."""

from __future__ import annotations

import re

from tests.support.admin import dashboard_login
from tests.support.keys import issue_key

OBSCENE = "What a fucking mess."


def _ids(page: str) -> list[str]:
    return re.findall(r'id="entry-[^"]+">.*?comment <code><bdi>([^<]+)</bdi>', page, flags=re.S)


def test_rejections_are_filtered_by_site_and_say_whose_they_are(app):
    news, blog = issue_key(app, "news.example"), issue_key(app, "blog.example")
    for key, comment_id in ((news, "n1"), (blog, "b1"), (None, "a1"), (news, "n2")):
        headers = {"X-API-Key": key} if key else {}
        assert (
            app.post("/v1/moderate", json={"text": OBSCENE, "id": comment_id}, headers=headers).status_code
            == 200
        )
    dashboard_login(app)

    everything = app.get("/dashboard/rejections").text
    assert _ids(everything) == ["n2", "a1", "b1", "n1"]
    assert (
        '· site <a href="/dashboard/rejections?site=news.example"><bdi>news.example</bdi></a>' in everything
    )
    # The sites with keys are suggested in the filter.
    assert '<option value="blog.example"><option value="news.example">' in everything

    news_only = app.get("/dashboard/rejections", params={"site": "news.example"}).text
    assert _ids(news_only) == ["n2", "n1"]
    assert 'name="site" value="news.example"' in news_only
    assert _ids(app.get("/dashboard/rejections", params={"site": "nobody.example"}).text) == []


def test_paging_keeps_the_site_filter(make_client):
    from tests.support.admin import ADMIN_PASSWORD
    from tests.support.scorers import MarkerScorer

    app = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    key = issue_key(app, "news.example")
    for i in range(30):
        app.post("/v1/moderate", json={"text": OBSCENE, "id": f"n{i}"}, headers={"X-API-Key": key})
        app.post("/v1/moderate", json={"text": OBSCENE, "id": f"a{i}"})
    dashboard_login(app)
    first = app.get("/dashboard/rejections", params={"site": "news.example"}).text
    assert len(_ids(first)) == 25 and all(i.startswith("n") for i in _ids(first))
    older = re.search(r'<a id="older" href="([^"]+)"', first)
    assert older is not None and "site=news.example" in older.group(1)
    second = app.get(older.group(1).replace("&amp;", "&")).text
    assert sorted(_ids(second)) == ["n0", "n1", "n2", "n3", "n4"]
