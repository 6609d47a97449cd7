"""The site of a comment's API key through the DecisionLog, on both stores: kept in its verdict's log entry,
its status and the moderators' entries on it, sent with the webhook, never lost by a rescoring run, and a
filter of the log."""

from __future__ import annotations

import pytest

from service.moderation.types import Comment
from service.review.log import DecisionLog
from tests.review.test_log import _verdict, decision_log, store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio


async def test_the_site_goes_with_every_record_of_the_comment(decision_log: DecisionLog) -> None:  # noqa: F811
    await decision_log.record(
        [
            Comment(id="n1", text="What darn nonsense", site="news.example"),
            Comment(id="b1", text="Well darn you", site="blog.example"),
            Comment(id="a1", text="Darn anonymous"),
            Comment(id="n2", text="Lovely", site="news.example"),
        ],
        [
            _verdict("n1", "reject"),
            _verdict("b1", "review"),
            _verdict("a1", "reject"),
            _verdict("n2", "accept"),
        ],
    )
    records = (await decision_log.entries()).records
    assert [(r.comment_id, r.site) for r in records] == [
        ("a1", None),
        ("b1", "blog.example"),
        ("n1", "news.example"),
    ]
    assert [r.comment_id for r in (await decision_log.entries(site="news.example")).records] == ["n1"]
    assert (await decision_log.status("n2")).site == "news.example"  # accepted: a status, no log entry
    assert (await decision_log.status("a1")).site is None
    (queued,) = await decision_log.queue()
    assert queued.record.site == "blog.example"

    await decision_log.decide("b1", "reject", "mod-ann")
    await decision_log.overturn("n1", "mod-ann")
    moderator = (await decision_log.entries(kind="moderator", site="blog.example")).records
    assert [(r.comment_id, r.site) for r in moderator] == [("b1", "blog.example")]
    sent = decision_log.sent  # type: ignore[attr-defined]
    assert [(p["comment_id"], p["site"]) for p in sent] == [("b1", "blog.example"), ("n1", "news.example")]


async def test_a_rescoring_run_keeps_the_site(decision_log: DecisionLog) -> None:  # noqa: F811
    await decision_log.record(
        [Comment(id="n1", text="darn", site="news.example")], [_verdict("n1", "review")]
    )
    # Rescoring from the log knows the site (its entry has it); one that does not must not erase it either.
    await decision_log.rerecord([Comment(id="n1", text="darn")], [_verdict("n1", "reject")])
    assert (await decision_log.status("n1")).site == "news.example"
    await decision_log.rerecord(
        [Comment(id="n1", text="darn", site="news.example")], [_verdict("n1", "reject")]
    )
    newest = (await decision_log.entries(site="news.example")).records
    assert [(r.comment_id, r.verdict) for r in newest] == [("n1", "reject"), ("n1", "review")]
