"""service/moderation/pipeline.py on its own: order, the identity the cache keys on, safe fallbacks.

The pipeline runs here on the real word lists and policy, a memory store and the marker scorer (a test
double: it scores what the text tells it to); the API tests drive the same pipeline through HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service import runtime
from service.model.batcher import Overloaded
from service.moderation.pipeline import Pipeline
from service.moderation.types import Comment
from service.review.models import IdConflict
from service.store.keys import verdict_digest
from service.store.memory import MemoryStore
from service.store.redis import RedisStore
from tests.support.failing import CountingStore
from tests.support.scorers import FailingScorer, GatedScorer, MarkerScorer, NaNScorer
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


def _build(scorer: MarkerScorer, store: MemoryStore, **overrides: object) -> Pipeline:
    settings = make_settings(**overrides)
    return runtime.pipeline(settings, rules=runtime.load_rules(settings), scorer=scorer, store=store)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    await memory.aclose()


async def test_verdicts_come_back_in_order_with_their_ids(store: MemoryStore) -> None:
    pipeline = _build(MarkerScorer(), store)
    try:
        texts = ["A fine article.", "This is fucking ridiculous.", "Hmm [[insult=0.6]]"]
        verdicts = await pipeline.moderate([Comment(id=f"c{i}", text=t) for i, t in enumerate(texts)])
    finally:
        pipeline.close()
    assert [(v.id, v.verdict) for v in verdicts] == [("c0", "accept"), ("c1", "reject"), ("c2", "review")]


async def test_the_cache_keys_on_the_text_and_the_identity(store: MemoryStore) -> None:
    scorer = MarkerScorer()
    pipeline = _build(scorer, store)
    try:
        identity = pipeline.identity()
        assert identity.model == "marker:000000000000"
        assert identity.policy == f"{pipeline.policy.version}:{pipeline.policy.fingerprint}"
        assert identity.wordlist == pipeline.rules.current().wordlist.version
        (first,) = await pipeline.moderate([Comment(id="a", text="A fine article.")])
        digest = verdict_digest("A fine article.", identity.policy, identity.wordlist, identity.model)
        assert (await store.get_verdict(digest) or {})["verdict"] == "accept"
        (again,) = await pipeline.moderate([Comment(id="b", text="A fine article.")])
        assert (first.cached, again.cached, again.id) == (False, True, "b")
        assert scorer.texts_scored == 1
    finally:
        pipeline.close()


async def test_another_model_is_another_identity_and_never_hits_the_old_cache(store: MemoryStore) -> None:
    old = _build(MarkerScorer(model_id="marker:aaaaaaaaaaaa"), store)
    new_scorer = MarkerScorer(model_id="marker:bbbbbbbbbbbb")
    new = _build(new_scorer, store)
    try:
        await old.moderate([Comment(text="A fine article.")])
        assert old.identity() != new.identity()
        (verdict,) = await new.moderate([Comment(text="A fine article.")])
        assert not verdict.cached and new_scorer.texts_scored == 1
    finally:
        old.close()
        new.close()


async def test_an_edited_policy_file_is_another_identity(store: MemoryStore, tmp_path: Path) -> None:
    shipped = _build(MarkerScorer(), store)
    edited = tmp_path / "policy.yaml"
    edited.write_text(
        (Path(__file__).resolve().parents[2] / "rules" / "policy.yaml").read_text("utf-8") + "\n# edited\n",
        "utf-8",
    )
    other = _build(MarkerScorer(), store, POLICY_FILE=edited)
    try:
        # Same version string, other bytes: the fingerprint tells them apart.
        assert shipped.policy.version == other.policy.version
        assert shipped.identity().policy != other.identity().policy
    finally:
        shipped.close()
        other.close()


@pytest.mark.parametrize("scorer", [FailingScorer(), NaNScorer()], ids=["raises", "nan"])
async def test_model_trouble_is_review_and_never_cached(store: MemoryStore, scorer: MarkerScorer) -> None:
    pipeline = _build(scorer, store)
    try:
        (verdict,) = await pipeline.moderate([Comment(text="A fine article.")])
        assert verdict.verdict == "review" and not verdict.model_consulted
        assert [r.code for r in verdict.reasons] == ["model_unavailable"]
        (again,) = await pipeline.moderate([Comment(text="A fine article.")])
        assert not again.cached
    finally:
        pipeline.close()


async def test_a_full_queue_is_backpressure_not_a_verdict(store: MemoryStore) -> None:
    scorer = GatedScorer()
    pipeline = _build(scorer, store, QUEUE_MAX=1, BATCH_MAX_SIZE=1, BATCH_MAX_WAIT_MS=0)
    try:
        running = asyncio.ensure_future(pipeline.moderate([Comment(text="first")]))
        await asyncio.to_thread(scorer.entered.wait, 5)
        waiting = asyncio.ensure_future(pipeline.moderate([Comment(text="second")]))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded):
            await pipeline.moderate([Comment(text="third")])
        scorer.release.set()
        assert [v.verdict for v in (*await running, *await waiting)] == ["accept", "accept"]
    finally:
        scorer.release.set()
        pipeline.close()


def _recording(scorer: MarkerScorer, store: MemoryStore, **overrides: object) -> Pipeline:
    settings = make_settings(**overrides)
    rules = runtime.load_rules(settings)
    decisions = runtime.decision_log(settings, store)
    return runtime.pipeline(settings, rules=rules, scorer=scorer, store=store, decisions=decisions)


async def test_each_comment_gets_its_own_status_token_and_none_reaches_the_cache(store: MemoryStore) -> None:
    pipeline = _recording(MarkerScorer(), store)
    try:
        first, second = await pipeline.moderate(
            [Comment(id="a", text="A fine article."), Comment(id="b", text="A fine article.")]
        )
        (third,) = await pipeline.moderate([Comment(id="c", text="A fine article.")])
        identity = pipeline.identity()
        digest = verdict_digest("A fine article.", identity.policy, identity.wordlist, identity.model)
        cached = await store.get_verdict(digest)
    finally:
        pipeline.close()
    tokens = {v.status_token for v in (first, second, third)}
    assert len(tokens) == 3 and None not in tokens
    assert third.cached and cached is not None and "status_token" not in cached


async def test_another_text_under_a_taken_id_is_a_conflict_naming_its_place(store: MemoryStore) -> None:
    pipeline = _recording(MarkerScorer(), store)
    try:
        (first,) = await pipeline.moderate([Comment(id="taken", text="A fine article.")])
        with pytest.raises(IdConflict) as conflict:
            await pipeline.moderate([Comment(id="new", text="Hello."), Comment(id="taken", text="Other.")])
        assert (conflict.value.index, conflict.value.comment_id) == (1, "taken")
        (again,) = await pipeline.moderate([Comment(id="taken", text="A fine article.")])
    finally:
        pipeline.close()
    assert again == first


async def test_a_verdict_keeps_the_capped_matches_and_says_how_many_it_left_out(store: MemoryStore) -> None:
    pipeline = _build(MarkerScorer(), store, MAX_MATCHES=9, MAX_REASONS=3)
    try:
        (verdict,) = await pipeline.moderate([Comment(text="shit " * 40 + "[[insult=0.95]]")])
    finally:
        pipeline.close()
    assert verdict.verdict == "reject"
    assert (len(verdict.profanity.matches), verdict.profanity.capped, verdict.profanity.omitted) == (
        9,
        True,
        31,
    )
    assert [m.start for m in verdict.profanity.matches] == sorted(m.start for m in verdict.profanity.matches)
    # Nine word-list reasons and one from the model: three kept, one of each kind first.
    assert len(verdict.reasons) == 3 and verdict.reasons_omitted == 7
    assert {r.source for r in verdict.reasons} == {"wordlist", "model"}


async def test_closing_the_pipeline_stops_its_matching_threads(store: MemoryStore) -> None:
    pipeline = _build(MarkerScorer(), store, MATCH_THREADS=3)
    assert (await pipeline.moderate([Comment(text="shit")]))[0].verdict == "reject"
    pipeline.close()
    with pytest.raises(RuntimeError, match="shutdown"):
        pipeline.matching.submit(len, "no more")


async def test_a_batch_costs_three_store_round_trips_not_two_per_comment(redis_store: RedisStore) -> None:
    counting = CountingStore(redis_store)
    settings = make_settings()
    decisions = runtime.decision_log(settings, counting)  # type: ignore[arg-type]
    pipeline = runtime.pipeline(
        settings,
        rules=runtime.load_rules(settings),
        scorer=MarkerScorer(),
        store=counting,
        decisions=decisions,
    )
    comments = [
        Comment(id=f"c{i}", text=f"Comment number {i} [[insult={0.1 + 0.4 * (i % 3):.1f}]]")
        for i in range(100)
    ]
    try:
        first = await pipeline.moderate(comments)
        assert counting.calls == ["get_verdicts", "set_verdicts", "write_records"]
        counting.calls.clear()
        again = await pipeline.moderate(comments)  # all cached, and repeats of what is recorded
        assert counting.calls == ["get_verdicts", "write_records"]
    finally:
        pipeline.close()
    assert all(v.status_token for v in first) and [v.status_token for v in again] == [
        v.status_token for v in first
    ]
    # A repeat is answered with the verdict recorded first.
    assert [v.verdict for v in again] == [v.verdict for v in first] and {v.verdict for v in first} != {
        "accept"
    }


async def test_a_memory_store_full_of_held_reviews_answers_verdicts_unrecorded_never_accepted() -> None:
    store = MemoryStore(max_held=1)
    pipeline = _recording(MarkerScorer(), store)
    try:
        (first,) = await pipeline.moderate([Comment(id="a", text="You fool [[insult=0.6]]")])
        second, third = await pipeline.moderate(
            [Comment(id="b", text="You idiot [[insult=0.6]]"), Comment(id="c", text="Nice piece.")]
        )
    finally:
        pipeline.close()
    assert (first.verdict, second.verdict, third.verdict) == ("review", "review", "accept")
    assert first.status_token and second.status_token is None and third.status_token is None
    assert pipeline.stats.record_errors == 1
    # The whole batch was refused before anything of it was written.
    assert await store.get_statuses(["b", "c"]) == [None, None] and await store.review_page(0, 5) == ["a"]
