"""Every sentence quoted in issue 11's "Why", through the real pipeline with the shipped rules: the verdict a
reader would expect. Two ways: word list alone (no model configured) and with the tests' marker scorer as the
model (a stand-in named as such: Detoxify's weights can't be downloaded here; it scores 0.01 everywhere, a model
that clearly finds nothing toxic in these sentences)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service import runtime
from service.moderation.pipeline import Pipeline
from service.moderation.types import Comment
from service.store.memory import MemoryStore
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

INNOCENT_WORDS = [
    "The meltwater reached the saltwater lagoon.",
    "We moved to Lightwater",
    "The Wankel engine",
    "The village of Shitterton floods",
    "a swank hotel",
    "he mishit the ball",
]
# (text, the listed term reported, the verdict). "asshole" and "bollocks" are review-tier terms: a person reads
# the comment (with a model, its insult score decides beyond that); the others reject on the word alone.
ABUSE = [
    ("Gay people are all complete assholes", "assholes", "review"),
    ("fcking idiots", "fucking", "reject"),
    ("those dickheads", "dickhead", "reject"),
    ("c0ons", "coons", "reject"),
    ("retards", "retard", "reject"),
    ("wetbacks", "wetbacks", "reject"),
    ("fkn", "fuckin", "reject"),
    ("mfers", "motherfuckers", "reject"),
    ("phuccing", "fucking", "reject"),
    ("b0llocks", "bollocks", "review"),
]
INNOCENT_SENSES = [
    "Dick Cheney defended the policy again.",
    "A cock crowed in the farmyard at dawn.",
    "Their hooker was sin-binned in the second half.",
    "Our old pussy cat sleeps by the fire all day.",
    "He stepped outside for a fag after the meeting.",
    "I am queer and I loved this review.",
]
OTHER_LANGUAGES = ["Das war sehr erfolgreich", "Vi måste sluta nu"]


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    await memory.aclose()


def _pipeline(store: MemoryStore, model: bool) -> Pipeline:
    settings = make_settings()
    scorer = MarkerScorer() if model else MarkerScorer(model_id="none")
    return runtime.pipeline(settings, rules=runtime.load_rules(settings), scorer=scorer, store=store)


async def _verdicts(store: MemoryStore, texts: list[str], model: bool):
    pipeline = _pipeline(store, model)
    try:
        return await pipeline.moderate([Comment(text=t) for t in texts])
    finally:
        pipeline.close()


@pytest.mark.anyio
@pytest.mark.parametrize("model", [False, True], ids=["word-list-only", "with-model"])
async def test_innocent_words_and_names_are_accepted(store, model):
    verdicts = await _verdicts(store, INNOCENT_WORDS + OTHER_LANGUAGES, model)
    assert [(v.verdict, v.profanity.matches) for v in verdicts] == [("accept", [])] * len(verdicts)


@pytest.mark.anyio
@pytest.mark.parametrize("model", [False, True], ids=["word-list-only", "with-model"])
async def test_obvious_abuse_is_never_accepted_and_names_the_term(store, model):
    verdicts = await _verdicts(store, [text for text, _, _ in ABUSE], model)
    got = [(v.verdict, [m.term for m in v.profanity.matches]) for v in verdicts]
    assert got == [(verdict, [term]) for _, term, verdict in ABUSE]
    assert all(v.reasons[0].source == "wordlist" for v in verdicts)


@pytest.mark.anyio
async def test_innocent_senses_are_accepted_by_the_model_and_held_without_one(store):
    with_model = await _verdicts(store, INNOCENT_SENSES, model=True)
    assert [v.verdict for v in with_model] == ["accept"] * len(INNOCENT_SENSES)
    without = await _verdicts(store, INNOCENT_SENSES, model=False)
    # "queer" as self-description is an identity term (allowed): no word to hold; the others wait for a person.
    assert [v.verdict for v in without] == ["review"] * (len(INNOCENT_SENSES) - 1) + ["accept"]
