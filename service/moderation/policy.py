"""The policy: rules/policy.yaml, validated, and the decision it makes from matches and scores.

`apply_policy` is a pure function of (policy, word-list matches, model scores): the same inputs give the same
verdict whichever door a comment came in by (API, compatibility endpoint, rescoring).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.moderation.types import (
    CLAUSES,
    NOTICE_ORDER,
    TIERS,
    Action,
    Clause,
    Reason,
    VerdictKind,
    WordMatch,
)

#: What apply_policy decides a verdict and a notice by, among word-list matches: which (tier, clause) pairs
#: occur (an ambiguous match's outcome depends on its clause and the comment's scores, the same for every
#: match of that pair). `cap_matches` keeps one match of each, so a cap never changes a verdict; a cap must
#: leave room.
DECIDING_MATCHES = len(TIERS) * len(CLAUSES)


#: Which matches a cap keeps first: an ambiguous word may reject, a review-tier word never does.
_TIER_ORDER: dict[str, int] = {"reject": 0, "ambiguous": 1, "review": 2}
_ACTION_ORDER: dict[str, int] = {"reject": 0, "review": 1, "accept": 2}


class PolicyError(Exception):
    """The policy file is unusable; the message names the file, the field and the reason."""

    def __init__(self, path: Path, field: str, reason: str) -> None:
        self.path, self.field, self.reason = path, field, reason
        super().__init__(f"{path}: {field}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RejectMessages(_Strict):
    obscene: str = Field(min_length=1)
    derogatory: str = Field(min_length=1)
    personal: str = Field(min_length=1)


class Messages(_Strict):
    reject: RejectMessages
    review: str = Field(min_length=1)


def _default_ambiguous_categories() -> dict[Clause, tuple[str, ...]]:
    return {
        "obscene": ("obscene", "sexual_explicit"),
        "derogatory": ("identity_attack",),
        "personal": ("insult", "threat"),
    }


class AmbiguousTier(_Strict):
    """How a word of the `ambiguous` tier (a word with a common innocent sense) is judged: by the highest
    model score among the categories named for the word's clause. At or above `reject` the model agrees
    (reject); at or above `review` it is unsure (review); below `review` it clearly disagrees (the word does
    not count). Without a model score the word goes to review."""

    reject: float = Field(default=0.7, ge=0.0, le=1.0)
    review: float = Field(default=0.2, ge=0.0, le=1.0)
    categories: dict[Clause, tuple[str, ...]] = Field(default_factory=_default_ambiguous_categories)

    @model_validator(mode="after")
    def _valid(self) -> AmbiguousTier:
        if self.review > self.reject:
            raise ValueError(f"review threshold {self.review} is above reject threshold {self.reject}")
        missing = [c for c in CLAUSES if not self.categories.get(c)]
        if missing:
            raise ValueError(
                f"categories: name at least one model category for each clause; missing: {', '.join(missing)}"
            )
        return self


class WordlistTiers(_Strict):
    reject: Action
    review: Action
    ambiguous: AmbiguousTier = Field(default_factory=AmbiguousTier)


class CategoryRule(_Strict):
    clause: Clause
    review: float | None = Field(default=None, ge=0.0, le=1.0)
    reject: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> CategoryRule:
        if self.review is None and self.reject is None:
            raise ValueError("set at least one of review and reject (or remove the category)")
        if self.review is not None and self.reject is not None and self.review > self.reject:
            raise ValueError(f"review threshold {self.review} is above reject threshold {self.reject}")
        return self


class Policy(_Strict):
    version: str = Field(min_length=1)
    notice: str = Field(min_length=1)
    messages: Messages
    wordlist: WordlistTiers
    categories: dict[str, CategoryRule]
    model_unavailable: Action = "review"
    #: sha256 of the file's bytes, so an edit that forgot to bump `version` still changes cache keys.
    fingerprint: str = ""


def load_policy(path: Path) -> Policy:
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise PolicyError(path, "<file>", f"cannot read the policy file ({exc.strerror or exc})") from exc
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise PolicyError(path, "<yaml>", f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(path, "<root>", "the file must hold a mapping (version, notice, messages, ...)")
    if "fingerprint" in raw:
        raise PolicyError(path, "fingerprint", "computed by the service; remove it from the file")
    raw["fingerprint"] = hashlib.sha256(raw_bytes).hexdigest()[:16]
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "<root>"
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown field (a typo?)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise PolicyError(path, field, reason + more) from exc
    _check_ambiguous_categories(path, policy)
    return policy


def _check_ambiguous_categories(path: Path, policy: Policy) -> None:
    """Every category the ambiguous tier names must be one of the policy's own categories: a typo there
    would otherwise never find a score and send every ambiguous word to review."""
    known = sorted(policy.categories)
    for clause, names in policy.wordlist.ambiguous.categories.items():
        for name in names:
            if name not in policy.categories:
                raise PolicyError(
                    path,
                    f"wordlist.ambiguous.categories.{clause}",
                    f"unknown category {name!r}; the policy's categories are {', '.join(known)}",
                )


@dataclass(frozen=True)
class PolicyOutcome:
    """What the policy makes of one comment's evidence: the verdict, its reasons, the notice to show, and how
    many reasons were left out past the cap."""

    verdict: VerdictKind
    reasons: list[Reason]
    notice: str | None
    reasons_omitted: int = 0


def cap_matches(matches: Sequence[WordMatch], limit: int) -> list[WordMatch]:
    """At most `limit` of `matches`, in text order, chosen so that `apply_policy` reaches the same verdict and
    notice from them as from all: first one match of each (tier, clause) pair (what the verdict and the notice
    depend on), then one of each further term, then repeats; reject-tier matches before ambiguous ones, those before
    review-tier ones.

    A comment repeating one word thousands of times would otherwise carry thousands of matches into the
    verdict, the cache, the decision log and every page that shows them. `limit` must be at least
    DECIDING_MATCHES."""
    if limit < DECIDING_MATCHES:
        raise ValueError(f"a match cap must keep at least {DECIDING_MATCHES} matches, got {limit}")
    if len(matches) <= limit:
        return list(matches)
    seen_pairs: set[tuple[str, str]] = set()
    seen_terms: set[str] = set()
    ranked: list[tuple[int, int, int]] = []
    for index, match in enumerate(matches):
        pair, term = (match.tier, match.clause), match.term
        rank = 0 if pair not in seen_pairs else 1 if term not in seen_terms else 2
        seen_pairs.add(pair)
        seen_terms.add(term)
        ranked.append((rank, _TIER_ORDER[match.tier], index))
    kept = sorted(index for _, _, index in sorted(ranked)[:limit])
    return [matches[i] for i in kept]


def cap_reasons(reasons: Sequence[Reason], limit: int) -> list[Reason]:
    """At most `limit` of `reasons`, in their order, keeping the most severe: those asking for a reject before
    those asking for a review, and those before an ambiguous word's accept; within each, one of each kind
    (source, clause, term or category) before repeats of it."""
    if len(reasons) <= limit:
        return list(reasons)
    seen: set[tuple[str, str | None, str | None]] = set()
    ranked: list[tuple[int, int, int]] = []
    for index, reason in enumerate(reasons):
        kind = (reason.source, reason.clause, reason.term or reason.category or reason.code)
        ranked.append((_ACTION_ORDER[reason.action], 0 if kind not in seen else 1, index))
        seen.add(kind)
    kept = sorted(index for _, _, index in sorted(ranked)[: max(limit, 0)])
    return [reasons[i] for i in kept]


def apply_policy(
    policy: Policy,
    matches: Sequence[WordMatch],
    scores: Mapping[str, float] | None,
    *,
    model_failed: bool = False,
    max_reasons: int | None = None,
) -> PolicyOutcome:
    """Turn evidence into a verdict. `scores` is None when the model was not consulted. With `max_reasons`,
    the verdict and the notice are decided from every reason, and then the most severe `max_reasons` of them
    are kept (`cap_reasons`)."""
    reasons: list[Reason] = []
    for match in matches:
        if match.tier == "ambiguous":
            reasons.append(judge_ambiguous(policy.wordlist.ambiguous, match, scores))
            continue
        reasons.append(
            Reason(
                code="wordlist_match",
                clause=match.clause,
                source="wordlist",
                action=policy.wordlist.reject if match.tier == "reject" else policy.wordlist.review,
                term=match.term,
                start=match.start,
                end=match.end,
            )
        )
    if scores is not None:
        for category, rule in policy.categories.items():
            score = scores.get(category)
            if score is None:
                continue
            # Thresholds are inclusive: a score exactly at the threshold triggers it.
            if rule.reject is not None and score >= rule.reject:
                action, threshold = "reject", rule.reject
            elif rule.review is not None and score >= rule.review:
                action, threshold = "review", rule.review
            else:
                continue
            reasons.append(
                Reason(
                    code="model_score",
                    clause=rule.clause,
                    source="model",
                    action=action,
                    category=category,
                    score=round(float(score), 6),
                    threshold=threshold,
                )
            )
    if model_failed:
        reasons.append(
            Reason(
                code="model_unavailable",
                clause=None,
                source="model",
                action=policy.model_unavailable,
                message="The toxicity model could not score this comment; it is held for a moderator.",
            )
        )

    if any(r.action == "reject" for r in reasons):
        verdict: VerdictKind = "reject"
    elif any(r.action == "review" for r in reasons):
        verdict = "review"
    else:
        verdict = "accept"
    notice = _notice(policy, verdict, reasons)
    kept = reasons if max_reasons is None else cap_reasons(reasons, max_reasons)
    return PolicyOutcome(
        verdict=verdict, reasons=kept, notice=notice, reasons_omitted=len(reasons) - len(kept)
    )


def judge_ambiguous(rule: AmbiguousTier, match: WordMatch, scores: Mapping[str, float] | None) -> Reason:
    """The reason an ambiguous word gives: whether the model agrees with its offensive reading (reject), is
    unsure (review) or clearly disagrees (accept: the word does not count), judged by the highest score among
    the categories the policy names for the word's clause; review without a score. Thresholds are inclusive,
    as for categories. The clause is left out of an accepted word's reason: it broke none."""
    word = f"ambiguous word {match.term!r}"
    names = rule.categories.get(match.clause, ())
    found = [(float(scores[name]), name) for name in names if scores is not None and name in scores]
    base = Reason(
        code="wordlist_ambiguous",
        clause=match.clause,
        source="wordlist",
        action="review",
        term=match.term,
        start=match.start,
        end=match.end,
    )
    if scores is None:
        return base.model_copy(update={"message": f"{word}: no model: held for review"})
    if not found:
        wanted = " or ".join(names) or "clause"
        return base.model_copy(
            update={"message": f"{word}: the model gives no {wanted} score: held for review"}
        )
    # The first of the highest scores, in the policy's order, so that ties name the same category each time.
    score, category = max(found, key=lambda pair: pair[0])
    shown = round(score, 6)
    if score >= rule.reject:
        return base.model_copy(
            update={
                "action": "reject",
                "category": category,
                "score": shown,
                "threshold": rule.reject,
                "message": f"{word}: the model agrees ({category} {score:.2f} ≥ {rule.reject:g})",
            }
        )
    if score >= rule.review:
        return base.model_copy(
            update={
                "category": category,
                "score": shown,
                "threshold": rule.review,
                "message": f"{word}: the model is unsure ({category} {score:.2f}, between {rule.review:g} "
                f"and {rule.reject:g}): held for review",
            }
        )
    return base.model_copy(
        update={
            "action": "accept",
            "clause": None,
            "category": category,
            "score": shown,
            "threshold": rule.review,
            "message": f"{word}: the model disagrees ({category} {score:.2f} < {rule.review:g}): accepted",
        }
    )


def _notice(policy: Policy, verdict: VerdictKind, reasons: Sequence[Reason]) -> str | None:
    if verdict == "accept":
        return None
    if verdict == "review":
        return f"{policy.messages.review} {policy.notice}"
    # Name the first clause (in the notice's order) that a rejecting reason broke.
    broken: list[Clause] = [r.clause for r in reasons if r.action == "reject" and r.clause is not None]
    for clause in NOTICE_ORDER:
        if clause in broken:
            return f"{getattr(policy.messages.reject, clause)} {policy.notice}"
    return policy.notice
