"""The word list's `ambiguous` tier (issue 11, item 4): a word with a common innocent sense ("cock" the bird,
"Dick" the name, "fag" the cigarette) is judged by the model. It rejects where the model agrees, goes to
review where the model is unsure or absent, and is accepted where the model clearly disagrees; the reason
says which. Decided by the real policy and word lists, with exact scores (no model) or the marker scorer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service import runtime
from service.moderation.pipeline import Pipeline
from service.moderation.policy import PolicyError, apply_policy, judge_ambiguous, load_policy
from service.moderation.types import Comment, Tier, WordMatch
from service.store.memory import MemoryStore
from service.wordlist.matcher import WordList
from service.wordlist.rules import WordListError, load_entries
from tests.support.scorers import FailingScorer, MarkerScorer
from tests.support.settings import make_settings

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def wordlist() -> WordList:
    return WordList.load(RULES)


def _cock(tier: Tier = "ambiguous", clause: Any = "obscene") -> WordMatch:
    return WordMatch(term="cock", tier=tier, clause=clause, start=4, end=8, text="cock")


# -- the policy's judgement -------------------------------------------------------------------------------------


def test_the_shipped_policy_names_its_thresholds_and_categories(policy):
    rule = policy.wordlist.ambiguous
    assert (rule.review, rule.reject) == (0.2, 0.7)
    assert rule.categories == {
        "obscene": ("obscene", "sexual_explicit"),
        "derogatory": ("identity_attack",),
        "personal": ("insult", "threat"),
    }


def test_the_model_agrees_and_the_word_rejects(policy):
    d = apply_policy(policy, [_cock()], {"obscene": 0.91, "sexual_explicit": 0.4})
    assert d.verdict == "reject"
    (reason,) = [r for r in d.reasons if r.source == "wordlist"]
    assert (reason.code, reason.action, reason.clause, reason.term) == (
        "wordlist_ambiguous",
        "reject",
        "obscene",
        "cock",
    )
    assert (reason.category, reason.score, reason.threshold, reason.start, reason.end) == (
        "obscene",
        0.91,
        0.7,
        4,
        8,
    )
    assert reason.message == "ambiguous word 'cock': the model agrees (obscene 0.91 ≥ 0.7)"
    assert "obscene words" in d.notice


def test_the_model_is_unsure_and_the_word_goes_to_review(policy):
    d = apply_policy(policy, [_cock()], {"obscene": 0.1, "sexual_explicit": 0.45})
    assert d.verdict == "review"
    (reason,) = d.reasons
    assert (reason.action, reason.category, reason.score, reason.threshold) == (
        "review",
        "sexual_explicit",
        0.45,
        0.2,
    )
    assert reason.message == (
        "ambiguous word 'cock': the model is unsure (sexual_explicit 0.45, between 0.2 and 0.7): held for review"
    )
    assert d.notice.startswith(policy.messages.review)


def test_the_model_disagrees_and_the_word_is_accepted_with_its_reason(policy):
    d = apply_policy(policy, [_cock()], {"obscene": 0.03, "sexual_explicit": 0.01, "insult": 0.02})
    assert (d.verdict, d.notice) == ("accept", None)
    (reason,) = d.reasons
    assert (reason.code, reason.action, reason.clause, reason.score) == (
        "wordlist_ambiguous",
        "accept",
        None,
        0.03,
    )
    assert reason.message == "ambiguous word 'cock': the model disagrees (obscene 0.03 < 0.2): accepted"


def test_the_thresholds_are_inclusive_at_their_edges(policy):
    rule = policy.wordlist.ambiguous
    verdict = lambda score: apply_policy(policy, [_cock()], {"obscene": score}).verdict  # noqa: E731
    assert (verdict(rule.reject), verdict(rule.reject - 1e-6)) == ("reject", "review")
    assert (verdict(rule.review), verdict(rule.review - 1e-6)) == ("review", "accept")


@pytest.mark.parametrize(
    ("clause", "scores", "action"),
    [
        ("derogatory", {"identity_attack": 0.8, "obscene": 0.0}, "reject"),
        ("derogatory", {"identity_attack": 0.05, "obscene": 0.99}, "accept"),  # obscene is not its category
        ("personal", {"insult": 0.1, "threat": 0.75}, "reject"),
        ("personal", {"insult": 0.1, "threat": 0.1, "identity_attack": 0.9}, "accept"),
    ],
)
def test_each_clause_is_judged_by_its_own_categories(policy, clause, scores, action):
    reason = judge_ambiguous(policy.wordlist.ambiguous, _cock(clause=clause), scores)
    assert reason.action == action


def test_without_a_model_or_when_it_fails_the_word_goes_to_review(policy):
    none = apply_policy(policy, [_cock()], None)
    assert none.verdict == "review"
    assert none.reasons[0].message == "ambiguous word 'cock': no model: held for review"
    failed = apply_policy(policy, [_cock()], None, model_failed=True)
    assert failed.verdict == "review"
    assert [r.code for r in failed.reasons] == ["wordlist_ambiguous", "model_unavailable"]
    # A model that produces none of the clause's categories is no judge either.
    lacking = apply_policy(policy, [_cock()], {"toxicity": 0.01})
    assert lacking.verdict == "review"
    assert lacking.reasons[0].message == (
        "ambiguous word 'cock': the model gives no obscene or sexual_explicit score: held for review"
    )


def test_an_accepted_ambiguous_word_never_hides_another_reason(policy):
    d = apply_policy(policy, [_cock(), _cock(tier="review", clause="personal")], {"obscene": 0.01})
    assert d.verdict == "review"
    d = apply_policy(policy, [_cock()], {"obscene": 0.01, "insult": 0.95})
    assert d.verdict == "reject" and "attacks a person" in d.notice


# -- the policy file's validation: a mistake stops startup, naming the field ------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda a: a.update(review=0.8, reject=0.7),
            "wordlist.ambiguous",
            "review threshold 0.8 is above reject threshold 0.7",
        ),
        (lambda a: a.update(reject=1.2), "wordlist.ambiguous.reject", "less than or equal to 1"),
        (lambda a: a.update(review=-0.1), "wordlist.ambiguous.review", "greater than or equal to 0"),
        (lambda a: a["categories"].pop("personal"), "wordlist.ambiguous", "missing: personal"),
        (lambda a: a["categories"].update(derogatory=[]), "wordlist.ambiguous", "missing: derogatory"),
        (
            lambda a: a["categories"].update(rude=["insult"]),
            "wordlist.ambiguous.categories.rude.[key]",
            "obscene",
        ),
        (
            lambda a: a["categories"].update(obscene=["obscene", "obscenity"]),
            "wordlist.ambiguous.categories.obscene",
            "unknown category 'obscenity'; the policy's categories are identity_attack, insult, obscene",
        ),
        (lambda a: a.update(agree=0.9), "wordlist.ambiguous.agree", "unknown field"),
    ],
)
def test_a_bad_ambiguous_section_names_the_field_and_the_reason(write_policy, raw, mutate, field, words):
    mutate(raw["wordlist"]["ambiguous"])
    path = write_policy(raw)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.field == field
    assert words in info.value.reason
    assert str(path) in str(info.value)


def test_a_policy_without_the_section_gets_the_defaults(write_policy, raw, policy):
    del raw["wordlist"]["ambiguous"]
    assert load_policy(write_policy(raw)).wordlist.ambiguous == policy.wordlist.ambiguous


def test_a_category_the_policy_does_not_list_is_refused_even_if_a_model_knows_it(write_policy, raw):
    del raw["categories"]["threat"]
    with pytest.raises(PolicyError, match="unknown category 'threat'"):
        load_policy(write_policy(raw))


# -- the word-list files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term", "clause"),
    [
        ("Dick Cheney spoke today.", "dick", "obscene"),
        ("A cock crowed at dawn.", "cock", "obscene"),
        ("The old pussy cat sleeps.", "pussy", "obscene"),
        ("Their hooker was sin-binned.", "hooker", "obscene"),
        ("He went out for a fag.", "fag", "derogatory"),
        ("I gave up fags last year.", "fags", "derogatory"),
        ("A blue tit nested here.", "tit", "obscene"),
        ("The murder trial opened.", "murder", "personal"),
        ("What a c0ck.", "cock", "obscene"),  # a disguise folds to the same word and tier
    ],
)
def test_words_with_an_innocent_sense_are_in_the_ambiguous_tier(wordlist, text, term, clause):
    (match,) = wordlist.find(text)
    assert (match.term, match.tier, match.clause) == (term, "ambiguous", clause)


def test_an_ambiguous_word_matches_whole_words_only(wordlist):
    # Not inside other words ("peacock", "Dickens"); its listed derivatives keep their own tier.
    assert wordlist.find("A peacock in Dickens's garden.") == []
    assert [(m.term, m.tier) for m in wordlist.find("you dickhead")] == [("dickhead", "reject")]


def _rules_dir(tmp_path: Path, suspect: str = "", block: str = "") -> Path:
    folder = tmp_path / "rules" / "wordlist"
    folder.mkdir(parents=True)
    (folder / "site-suspect.txt").write_text(suspect)
    (folder / "site-block.txt").write_text(block)
    return tmp_path / "rules"


def test_a_site_may_add_ambiguous_words_in_site_suspect(tmp_path):
    entries = load_entries(_rules_dir(tmp_path, suspect="[ambiguous personal]\nnumpty  # a fond word too\n"))
    e = entries["numpty"]
    assert (e.tier, e.clause, e.source) == ("ambiguous", "personal", "site-suspect.txt")


def test_ambiguous_sections_need_a_clause_and_do_not_belong_in_site_block(tmp_path):
    with pytest.raises(WordListError, match="needs a clause"):
        load_entries(_rules_dir(tmp_path, suspect="[ambiguous]\nnumpty\n"))
    with pytest.raises(WordListError, match=r"tier 'ambiguous' does not belong in site-block.txt"):
        load_entries(_rules_dir(tmp_path / "b", block="[ambiguous obscene]\nnumpty\n"))


# -- through the pipeline, with the marker scorer as the model ---------------------------------------------------


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    await memory.aclose()


def _build(scorer: MarkerScorer, store: MemoryStore, **overrides: object) -> Pipeline:
    settings = make_settings(**overrides)
    return runtime.pipeline(settings, rules=runtime.load_rules(settings), scorer=scorer, store=store)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("text", "verdict", "judged"),
    [
        # Names and innocent senses: the marker scorer's 0.01 is a model that clearly disagrees.
        (
            "Dick Cheney defended the policy again.",
            "accept",
            "the model disagrees (obscene 0.01 < 0.2): accepted",
        ),
        ("A cock crowed in the farmyard at dawn.", "accept", "the model disagrees"),
        ("He stepped outside for a fag after the meeting.", "accept", "the model disagrees (identity_attack"),
        ("Their hooker was sin-binned in the second half.", "accept", "the model disagrees"),
        ("Shut up, you cock. [[obscene=0.91]]", "reject", "the model agrees (obscene 0.91 ≥ 0.7)"),
        (
            "Shut up, you fag. [[identity_attack=0.83]]",
            "reject",
            "the model agrees (identity_attack 0.83 ≥ 0.7)",
        ),
        ("Nice tits. [[sexual_explicit=0.5]]", "review", "the model is unsure (sexual_explicit 0.50"),
    ],
)
async def test_the_pipeline_asks_the_model_about_an_ambiguous_word(store, text, verdict, judged):
    pipeline = _build(MarkerScorer(), store)
    try:
        (v,) = await pipeline.moderate([Comment(text=text)])
    finally:
        pipeline.close()
    assert v.verdict == verdict
    (reason,) = [r for r in v.reasons if r.code == "wordlist_ambiguous"]
    assert judged in (reason.message or "")
    assert [m.tier for m in v.profanity.matches] == ["ambiguous"]


@pytest.mark.anyio
async def test_without_a_model_an_ambiguous_word_goes_to_review(store):
    pipeline = _build(MarkerScorer(model_id="none"), store)
    try:
        (v,) = await pipeline.moderate([Comment(text="Dick Cheney defended the policy again.")])
    finally:
        pipeline.close()
    assert (v.verdict, v.model_consulted) == ("review", False)
    assert v.reasons[0].message == "ambiguous word 'dick': no model: held for review"


@pytest.mark.anyio
async def test_when_the_model_fails_an_ambiguous_word_goes_to_review(store):
    pipeline = _build(FailingScorer(), store)
    try:
        (v,) = await pipeline.moderate([Comment(text="A cock crowed in the farmyard at dawn.")])
    finally:
        pipeline.close()
    assert v.verdict == "review"
    assert [r.code for r in v.reasons] == ["wordlist_ambiguous", "model_unavailable"]
