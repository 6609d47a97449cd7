"""The policy file's validation and the decision it makes, with exact scores (no model involved)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.moderation.policy import DECIDING_MATCHES, PolicyError, apply_policy, cap_matches, load_policy
from service.moderation.types import WordMatch


def test_shipped_policy_loads_with_its_notice(policy):
    assert (
        policy.notice == "Kindly refrain from using derogatory, personal, or obscene words in your comments."
    )
    assert {r.clause for r in policy.categories.values()} == {"obscene", "derogatory", "personal"}
    assert len(policy.fingerprint) == 16


@pytest.mark.parametrize(
    ("category", "clause"),
    [
        ("obscene", "obscene"),
        ("sexual_explicit", "obscene"),
        ("identity_attack", "derogatory"),
        ("insult", "personal"),
        ("threat", "personal"),
    ],
)
def test_each_clause_triggers_from_its_category(policy, category, clause):
    d = apply_policy(policy, [], {category: 0.95})
    assert d.verdict == "reject"
    (reason,) = d.reasons
    assert (reason.clause, reason.source, reason.category, reason.code) == (
        clause,
        "model",
        category,
        "model_score",
    )
    assert reason.threshold == policy.categories[category].reject
    assert d.notice is not None and policy.notice in d.notice


def test_thresholds_are_inclusive_at_their_edges(policy):
    rule = policy.categories["insult"]
    assert apply_policy(policy, [], {"insult": rule.reject}).verdict == "reject"
    assert apply_policy(policy, [], {"insult": rule.reject - 1e-6}).verdict == "review"
    assert apply_policy(policy, [], {"insult": rule.review}).verdict == "review"
    assert apply_policy(policy, [], {"insult": rule.review - 1e-6}).verdict == "accept"


def test_review_band_names_the_reason_and_the_review_notice(policy):
    d = apply_policy(policy, [], {"threat": 0.6})
    assert d.verdict == "review"
    assert d.reasons[0].action == "review" and d.reasons[0].score == 0.6
    assert d.notice.startswith(policy.messages.review)


def test_general_toxicity_never_rejects_alone(policy):
    assert apply_policy(policy, [], {"toxicity": 0.99}).verdict == "review"


def test_clean_scores_accept_without_notice(policy):
    d = apply_policy(policy, [], dict.fromkeys(policy.categories, 0.01))
    assert (d.verdict, d.reasons, d.notice) == ("accept", [], None)


def _match(tier: str, clause: str) -> WordMatch:
    return WordMatch(term="x", tier=tier, clause=clause, start=3, end=7, text="xxxx", evidence=[])


def test_wordlist_tiers_map_to_actions_and_keep_spans(policy):
    d = apply_policy(policy, [_match("reject", "derogatory")], None)
    assert d.verdict == "reject"
    assert (d.reasons[0].start, d.reasons[0].end, d.reasons[0].clause) == (3, 7, "derogatory")
    assert "derogatory" in d.notice
    assert apply_policy(policy, [_match("review", "obscene")], None).verdict == "review"


def test_model_failure_is_review_never_accept(policy):
    d = apply_policy(policy, [], None, model_failed=True)
    assert d.verdict == "review"
    assert d.reasons[-1].code == "model_unavailable"
    # A rejecting word still rejects: failure only ever makes a verdict stricter.
    assert apply_policy(policy, [_match("reject", "obscene")], None, model_failed=True).verdict == "reject"


def test_categories_the_model_lacks_are_skipped(policy):
    assert apply_policy(policy, [], {"unknown_category": 1.0}).verdict == "accept"


def test_fingerprint_changes_with_content(write_policy, raw):
    a = load_policy(write_policy(raw))
    raw["categories"]["insult"]["reject"] = 0.8
    b = load_policy(write_policy(raw))
    assert a.version == b.version and a.fingerprint != b.fingerprint


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda r: r.pop("version"), "version", "required"),
        (
            lambda r: r["categories"]["insult"].update(reject=1.5),
            "categories.insult.reject",
            "less than or equal",
        ),
        (lambda r: r["categories"]["insult"].update(clause="rude"), "categories.insult.clause", "obscene"),
        (lambda r: r["categories"]["insult"].update(review=0.9, reject=0.7), "categories.insult", "above"),
        (lambda r: r.update(thresholds={}), "thresholds", "unknown field"),
        (lambda r: r["wordlist"].update(reject="ban"), "wordlist.reject", "review"),
    ],
)
def test_bad_policy_names_file_field_and_reason(write_policy, raw, mutate, field, words):
    mutate(raw)
    path = write_policy(raw)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.field == field
    assert words in info.value.reason
    assert str(path) in str(info.value)


def test_unparseable_and_missing_files(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")
    bad.write_text("- a list\n")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(bad)


# -- caps: a verdict keeps a bounded number of matches and reasons, and the cap never changes the verdict -----

_matches = st.builds(
    lambda tier, clause, term, start: WordMatch(
        term=term, tier=tier, clause=clause, start=start, end=start + len(term), text=term
    ),
    st.sampled_from(["reject", "review", "ambiguous"]),
    st.sampled_from(["obscene", "derogatory", "personal"]),
    st.sampled_from(["darn", "heck", "crud", "blast", "drat"]),
    st.integers(0, 10_000),
)
_scores = st.none() | st.fixed_dictionaries(
    {c: st.floats(0, 1) for c in ("insult", "identity_attack", "obscene", "threat", "sexual_explicit")}
)


@settings(max_examples=300, deadline=None)
@given(matches=st.lists(_matches, max_size=60), scores=_scores, limit=st.integers(DECIDING_MATCHES, 30))
def test_capped_matches_decide_the_same_verdict_and_notice(policy, matches, scores, limit):
    kept = cap_matches(matches, limit)
    assert len(kept) == min(len(matches), limit)
    # A subsequence of what was found, in the same order.
    it = iter(matches)
    assert all(any(m is k for m in it) for k in kept)
    full, capped = apply_policy(policy, matches, scores), apply_policy(policy, kept, scores)
    assert (capped.verdict, capped.notice) == (full.verdict, full.notice)


@settings(max_examples=300, deadline=None)
@given(matches=st.lists(_matches, max_size=60), scores=_scores, limit=st.integers(1, 30))
def test_capped_reasons_keep_the_most_severe_and_say_how_many_went(policy, matches, scores, limit):
    full = apply_policy(policy, matches, scores, model_failed=scores is None)
    capped = apply_policy(policy, matches, scores, model_failed=scores is None, max_reasons=limit)
    assert (capped.verdict, capped.notice) == (full.verdict, full.notice)
    assert len(capped.reasons) == min(limit, len(full.reasons))
    assert capped.reasons_omitted == len(full.reasons) - len(capped.reasons)
    rejects = sum(r.action == "reject" for r in full.reasons)
    assert sum(r.action == "reject" for r in capped.reasons) == min(rejects, limit)


def test_a_cap_keeps_one_of_each_kind_before_repeats(policy):
    repeats = [
        WordMatch(term="darn", tier="reject", clause="obscene", start=i, end=i + 4, text="darn")
        for i in range(50)
    ]
    rare = WordMatch(term="heck", tier="review", clause="personal", start=900, end=904, text="heck")
    kept = cap_matches([*repeats, rare], DECIDING_MATCHES)
    assert kept[-1] is rare and len(kept) == DECIDING_MATCHES
    with pytest.raises(ValueError, match="at least"):
        cap_matches(repeats, DECIDING_MATCHES - 1)
