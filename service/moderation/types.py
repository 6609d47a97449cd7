"""The moderation domain's vocabulary: what a comment, a match, a reason and a verdict are.

These are pydantic models because the verdict is a public JSON contract (ARCHITECTURE.md) and the same
objects are cached in Redis; pydantic is a data library, not a web framework, so the domain stays free of
FastAPI.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, Field

# The one vocabulary of verdicts, clauses, tiers and sources. Every other module takes these names from
# here: the tuples are derived from the Literal types, so the two can never disagree.

Clause = Literal["obscene", "derogatory", "personal"]
"""The three clauses of the notice: obscene words, derogatory words, personal attacks."""
CLAUSES: tuple[Clause, ...] = get_args(Clause)

NOTICE_ORDER: tuple[Clause, ...] = ("derogatory", "personal", "obscene")
"""The clauses in the order the notice names them ("derogatory, personal, or obscene words")."""

VerdictKind = Literal["accept", "review", "reject"]
VERDICTS: tuple[VerdictKind, ...] = get_args(VerdictKind)

Action = Literal["review", "reject"]
"""What a reason asks for, and what a policy rule assigns: the verdicts that are not an accept."""
ACTIONS: tuple[Action, ...] = get_args(Action)

Tier = Literal["reject", "review", "ambiguous"]
"""Word-list tiers that produce matches. A `reject` or `review` term asks for that action; an `ambiguous` term
(a word with a common innocent sense: "cock" the bird, "Dick" the name) asks the model: it rejects when the
model agrees, goes to review when the model is unsure or absent, and is accepted when the model disagrees
(rules/policy.yaml, `wordlist.ambiguous`). The fourth tier, `allow`, never produces a match."""
TIERS: tuple[Tier, ...] = get_args(Tier)
WordlistTier = Literal["reject", "review", "ambiguous", "allow"]
WORDLIST_TIERS: tuple[WordlistTier, ...] = get_args(WordlistTier)

Source = Literal["wordlist", "model", "rule"]
SOURCES: tuple[Source, ...] = get_args(Source)


COMMENT_ID_MAX_CHARS = 128
#: The safe alphabet of comment ids. Ids become path segments of the dashboard's and the API's URLs and parts
#: of Redis keys: no "/", "?", "#", "%" or space can change what a URL built from one points at, and with no
#: two dots in a row and at least one other character, no id is a "." or ".." segment (which browsers resolve
#: even percent-encoded). The repeated group consumes one non-dot character each time, so matching is linear.
COMMENT_ID_PATTERN = r"(?:\.?[A-Za-z0-9_:-])+\.?"
COMMENT_ID_RULE = (
    f"a comment id is 1 to {COMMENT_ID_MAX_CHARS} characters from A-Z a-z 0-9 . _ : - "
    "with no two dots in a row and not only dots"
)
_COMMENT_ID = re.compile(COMMENT_ID_PATTERN, re.ASCII)


def is_comment_id(value: str) -> bool:
    """Whether `value` follows COMMENT_ID_RULE (what the API accepts as a comment's id)."""
    return len(value) <= COMMENT_ID_MAX_CHARS and _COMMENT_ID.fullmatch(value) is not None


#: A BCP 47 language tag as a client sends one ("de", "de-AT", "pt_BR", "gsw"): a primary language subtag of
#: two or three letters, then any subtags. Only the primary subtag matters to the word list.
LANG_TAG_PATTERN = r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*"
LANG_TAG_RULE = (
    "lang is a BCP 47 language tag: a two- or three-letter language code, then any subtags "
    '("de", "de-AT", "pt-BR")'
)
_LANG_TAG = re.compile(LANG_TAG_PATTERN, re.ASCII)


def primary_language(tag: str | None) -> str | None:
    """The primary language subtag of a BCP 47 tag, lower-cased ("de-AT" -> "de"); None for None or for a tag
    that does not follow LANG_TAG_RULE."""
    if tag is None:
        return None
    tag = tag.strip()
    if len(tag) > 35 or _LANG_TAG.fullmatch(tag) is None:
        return None
    return re.split(r"[-_]", tag, maxsplit=1)[0].lower()


LanguageSource = Literal["given", "detected", "default"]
LANGUAGE_SOURCES: tuple[LanguageSource, ...] = get_args(LanguageSource)


class Language(BaseModel):
    """The language the word list assumed for a comment, and where that came from."""

    code: str = Field(description="Primary language subtag (ISO 639): 'en', 'de', 'sv', ...")
    source: LanguageSource = Field(
        description=(
            "'given': the request's lang; 'detected': the language detector was sure enough (or the words are "
            "plainly English); 'default': English, because no lang was given and the text was too short, the "
            "detector unsure, or every match counts in any language (then nothing is detected)."
        )
    )


class Comment(BaseModel):
    """One comment as the pipeline receives it (already validated by whichever door it came in by)."""

    text: str
    id: str | None = None
    article_id: str | None = None
    author_id: str | None = None
    lang: str | None = None
    site: str | None = None
    """The site whose API key the comment came with (None: anonymous, where keys are not required)."""


class WordMatch(BaseModel):
    """One word-list hit, located in the ORIGINAL text the client sent."""

    term: str = Field(description="The listed term that matched, in its canonical spelling.")
    tier: Tier
    clause: Clause
    start: int = Field(description="Offset of the first matched character in the original text.")
    end: int = Field(description="Offset one past the last matched character in the original text.")
    text: str = Field(description="The original text between start and end, as the commenter wrote it.")
    evidence: list[str] = Field(
        default_factory=list,
        description="The normalization steps that revealed the match (e.g. 'leet', 'confusable', 'spaced').",
    )


class Reason(BaseModel):
    """Why a verdict is not a plain accept: one broken clause (or one failure), with its evidence; or why an
    ambiguous word did not count (action accept)."""

    code: str = Field(
        description="Machine-readable reason: wordlist_match, wordlist_ambiguous (a word with an innocent "
        "sense, judged by the model), model_score or model_unavailable."
    )
    clause: Clause | None = Field(description="The clause of the notice that was broken; null for failures.")
    source: Source
    action: VerdictKind = Field(
        description="What this reason alone asks for. Only a wordlist_ambiguous reason may say accept: the "
        "model clearly disagreed with the word's offensive reading."
    )
    category: str | None = Field(default=None, description="Model category, for model reasons.")
    term: str | None = Field(default=None, description="Listed term, for word-list reasons.")
    score: float | None = None
    threshold: float | None = None
    start: int | None = None
    end: int | None = None
    message: str | None = None


class Profanity(BaseModel):
    matches: list[WordMatch] = Field(default_factory=list)
    capped: bool = Field(
        default=False,
        description="True when more matches were found than a verdict keeps (MODERATION_MAX_MATCHES).",
    )
    omitted: int = Field(
        default=0, ge=0, description="How many matches were found but left out of `matches`."
    )
    language: Language | None = Field(
        default=None,
        description=(
            "The language the word list assumed. Sub-word and disguised matches count in English text only; "
            "in another language only a listed term written out as a whole word counts, unless it is a "
            "common word of that language. Null when no lang was given and nothing matched (no language "
            "was needed, so none was detected)."
        ),
    )


class Verdict(BaseModel):
    """The public answer for one comment."""

    id: str
    verdict: VerdictKind
    reasons: list[Reason] = Field(default_factory=list)
    reasons_omitted: int = Field(
        default=0,
        ge=0,
        description="Reasons left out past MODERATION_MAX_REASONS; the most severe are the ones kept.",
    )
    notice: str | None = Field(
        default=None, description="Text to show the commenter when the comment is not accepted."
    )
    scores: dict[str, float] = Field(
        default_factory=dict,
        description="Every model category's score; empty when the model was not consulted.",
    )
    profanity: Profanity = Field(default_factory=Profanity)
    cached: bool = False
    model_consulted: bool = Field(
        default=True, description="False when the service runs without a model or the model failed."
    )
    policy_version: str
    model: str = Field(description="Model id: name plus a hash of the checkpoint file, or 'none'.")
    status_token: str | None = Field(
        default=None,
        description=(
            "Send it with GET /v1/comments/{id} to read the comment's status; only its first writer gets it. "
            "Null when the status was not recorded."
        ),
    )
    appeal_token: str | None = Field(
        default=None,
        description=(
            "For a reject or a review: send it with POST /v1/comments/{id}/appeal to contest the decision, and "
            "with GET /v1/comments/{id}/statement to read its statement of reasons. Only the first writer gets "
            "it, once (the service keeps only its digest). Null for an accept and when the status was not "
            "recorded."
        ),
    )
