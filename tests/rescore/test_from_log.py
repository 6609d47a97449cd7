"""`moderation rescore --from-log` against a real Redis: report what a policy change would do, write nothing;
`--apply` records the new verdicts, never over a moderator's decision."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import redis
import yaml

from service import runtime
from service.moderation.types import Comment
from service.rescore.from_log import rescore_log
from service.rescore.options import Options
from service.store.redis import RedisStore
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings


def _snapshot(client: redis.Redis, prefix: str) -> dict[str, object]:
    """Every key of the prefix with its type and content (counters included)."""
    out: dict[str, object] = {}
    for key in sorted(client.scan_iter(match=f"{prefix}*")):
        kind = client.type(key)
        if kind == "stream":
            out[key] = client.xrange(key)
        elif kind == "hash":
            out[key] = client.hgetall(key)
        elif kind == "zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        else:
            out[key] = client.get(key)
    return out


def _stricter_rules(tmp_path: Path, repo_root: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(repo_root / "rules", rules)
    policy = yaml.safe_load((rules / "policy.yaml").read_text())
    policy["version"] = "stricter"
    policy["categories"]["insult"]["reject"] = 0.55  # a 0.6 insult is now rejected, not reviewed
    (rules / "policy.yaml").write_text(yaml.safe_dump(policy))
    return rules


async def _populate(settings, store) -> None:
    """Three comments moderated by the service under the shipped rules; a moderator approves one."""
    rules = runtime.load_rules(settings)
    decisions = runtime.decision_log(settings, store)
    pipeline = runtime.pipeline(
        settings, rules=rules, scorer=MarkerScorer(), store=store, decisions=decisions
    )
    try:
        verdicts = await pipeline.moderate(
            [
                Comment(
                    id="a", text="Borderline [[insult=0.6]] remark", article_id="art-1", site="news.example"
                ),
                Comment(id="b", text="Another [[insult=0.62]] jab"),
                Comment(id="c", text="Clearly [[insult=0.9]] abusive"),
                Comment(id="d", text="Fine words"),
            ]
        )
    finally:
        pipeline.close()
    assert [v.verdict for v in verdicts] == ["review", "review", "reject", "accept"]
    await decisions.decide("b", "approve", "moderator-1")


def test_from_log_reports_changes_and_writes_nothing_then_applies(
    tmp_path: Path, redis_url: str, key_prefix: str, raw_redis: redis.Redis, repo_root: Path
) -> None:
    before = make_settings(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    after = make_settings(
        REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, RULES_DIR=_stricter_rules(tmp_path, repo_root)
    )

    async def scenario() -> None:
        store = RedisStore.from_url(redis_url, prefix=key_prefix)  # the test's own keys, deleted after it
        try:
            await _populate(before, store)
            snapshot = _snapshot(raw_redis, key_prefix)

            dry = await rescore_log(
                after,
                Options(output=str(tmp_path / "changes.jsonl")),
                apply=False,
                limit=None,
                scorer_factory=MarkerScorer,
                store=store,
            )
            assert dry.judged == 3  # the logged reviews and rejection; accepts are not logged
            assert dry.changes == {"review->reject": 2}
            assert {e["id"] for e in dry.examples["review->reject"]} == {"a", "b"}
            assert dry.applied == 0
            assert _snapshot(raw_redis, key_prefix) == snapshot  # nothing written, not even a counter
            assert (tmp_path / "changes.jsonl").read_text().count('"changed": true') == 2

            applied = await rescore_log(
                after, Options(), apply=True, limit=None, scorer_factory=MarkerScorer, store=store
            )
            assert applied.changes == {"review->reject": 2}
            assert applied.applied == 1 and applied.skipped_moderator == 1
            decisions = runtime.decision_log(after, store)
            assert (await decisions.status("a")).status == "rejected"
            assert (await decisions.status("b")).status == "approved"  # the moderator's decision stands
            assert (await decisions.status("c")).status == "rejected"
            assert "a" not in {item.comment_id for item in await decisions.queue()}
            newest = (await decisions.entries(page_size=1)).records[0]
            assert (newest.comment_id, newest.verdict, newest.policy_version) == ("a", "reject", "stricter")
            assert newest.article_id == "art-1"
            assert newest.site == "news.example"  # the site of the key it came with stays with it

            # Under the new rules, the log now agrees with itself (b stays approved by the moderator).
            again = await rescore_log(
                after, Options(), apply=False, limit=None, scorer_factory=MarkerScorer, store=store
            )
            assert again.changes == {"review->reject": 1} and again.examples["review->reject"][0]["id"] == "b"
        finally:
            await store.aclose()

    asyncio.run(scenario())


def test_from_log_leaves_entries_whose_text_the_log_cut(
    tmp_path: Path, redis_url: str, key_prefix: str, repo_root: Path
) -> None:
    # A cut text is not the comment: judging it could give another verdict, which --apply would record.
    rules = _stricter_rules(tmp_path, repo_root)
    settings = make_settings(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, LOG_TEXT_MAX_CHARS=20)

    async def scenario() -> None:
        store = RedisStore.from_url(redis_url, prefix=key_prefix)
        try:
            shipped = runtime.load_rules(settings)
            decisions = runtime.decision_log(settings, store)
            pipeline = runtime.pipeline(
                settings,
                rules=shipped,
                scorer=MarkerScorer(),
                store=store,
                decisions=decisions,
            )
            try:
                await pipeline.moderate(
                    [
                        Comment(id="long", text="Borderline [[insult=0.6]] remark, and much more besides"),
                        Comment(id="short", text="Eh [[insult=0.6]]"),
                    ]
                )
            finally:
                pipeline.close()
            after = make_settings(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, RULES_DIR=rules)
            summary = await rescore_log(
                after, Options(), apply=True, limit=None, scorer_factory=MarkerScorer, store=store
            )
            assert (summary.judged, summary.skipped_cut, summary.applied) == (1, 1, 1)
            assert (await decisions.status("long")).status == "pending_review"
            assert (await decisions.status("short")).status == "rejected"
        finally:
            await store.aclose()

    asyncio.run(scenario())
