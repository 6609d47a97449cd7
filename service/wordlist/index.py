"""The term index: everything the word list builds once from its entries, and the questions asked of it.

`build_index(entries)` runs these steps, one function each, in this order:

1. `select_terms`: every entry folds to a match key; per key the most severe entry stands for it.
2. `spell_terms`: how each key is searched, and every spelling searched for it (below).
3. `rank_terms`: which of several terms found on one span is reported.
4. `build_forms`: those spellings as lookup tables and Aho-Corasick automata, with the phrase tables.
5. `benign_words`: dictionary words that hold a long term without being one ("Scunthorpe").
6. `read_vocabulary`: the per-token questions asked once of wordfreq's most frequent words, so that most
   comments are answered by a set lookup (matcher.py describes that prefilter).

How a key is searched: short terms (up to three letters once squeezed: "ass", "cum", "tit") and review-tier
terms only match whole tokens, except a short term disguised with a leet symbol at the start of a longer word
("a$$assin", matcher.py); longer reject-tier terms and phrases match anywhere through one automaton, which is
what finds "youfuckingidiot". A term whose squeezed form is an ordinary word, or sits inside one ("reefer" →
"refer", "asses" → "ases" in "cases"), matches whole tokens only, with its listed repeats. Terms written with
f also match with "ph" for it ("phuck"); the ambiguous placeholder of the match view (normalize.py) stands
for i or l, so each i and l of a term is also spelled with it. Benign words ("Scunthorpe", "saltwater",
"cocktail") are the words of the lexicons (lexicon.py: all of wordfreq's English list, and the spelling
lexicon) that contain a long term, other than derivatives of a listed stem, words that split into the stem
and other words ("shit|storm", "bull|shits": compounds.py); a benign word cancels a hit only where the literal
view spells it out. Capitalised words outside the lexicons are judged as names by the matcher. ("therapist"
needs none: "rapist" is a review-tier term inside ordinary words, so whole tokens only.)

Each one-word key is also spelled as morphology.py generates it, guarded by the lexicons (lexicon.py): its
inflections and compounds ("assholes", "dickheads"), phonetic spellings ("phuccing", "kunt"), consonant
skeletons ("fck", "fkn") and abbreviations ("mfers"), all reporting the listed term (`spell_generated`). They
match whole tokens, as written where squeezing would make another word of them ("coons", not "cons"); a
skeleton of a reject term's own key with at least MIN_JOINED_SKELETON letters that no word holds also
matches inside a longer word ("@ssfcker").

The questions (`TermForms`): `locate` finds the candidates in a piece of the match view, `token_roles` says
what one token may take part in. The matcher asks them of comments, with caches; `read_vocabulary` asks them
of the vocabulary once. Views: `s` is the match view, `q` the same squeezed ("fuuuck" → "fuck").
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

import ahocorasick
import wordfreq

from service.moderation.types import Clause, Tier
from service.wordlist import compounds, offsets
from service.wordlist import lexicon as lx
from service.wordlist import morphology as mo
from service.wordlist import normalize as nz
from service.wordlist.rules import Entry, WordListError, entries_digest

LONG_MIN_LETTERS = 4
"""Reject-tier terms with at least this many letters once squeezed may match inside a longer word."""
COMMON_ZIPF = 3.0
"""A word at least this frequent (Zipf scale) is 'ordinary': its squeezed look-alikes are not suspicious."""
MAX_AMBIGUOUS_POSITIONS = 6
"""Beyond this many i/l letters a term gets only the all-literal and all-placeholder spellings."""
MAX_EXTRA_REPEATS = 3
"""Short terms whose squeezed form is an ordinary word match with each letter repeated up to this more."""
TRAILING_PLACEHOLDERS = 3
"""'ass!!!' folds to 'assIII': short terms accept up to this many trailing placeholders."""
CLEAN_VOCABULARY = 400_000
"""The most frequent dictionary words whose tokens are checked once at load time (see read_vocabulary)."""
EXCLAIMED_VOCABULARY = 30_000
"""Of those, the most frequent also as followed by '!' ("great!" folds to "greatI", a token of its own)."""
NUMBER_TOKEN_LETTERS = 5
"""Numbers of up to this many digits are read once at load time (see number_tokens)."""
NUMBER_ENDINGS = ("s", "am", "pm", "k", "m", "bn", "st", "nd", "rd", "th", "x")
MAX_PH_POSITIONS = 2
"""A term spelled with f also matches with 'ph' for each f, up to this many f's (beyond: all or none)."""
MAX_GENERATED_POSITIONS = 2
"""A generated spelling (morphology.py) gets 'ph' and placeholder variants for up to this many f's, and up to
this many i's and l's (beyond: all or none), which bounds what the inflections multiply."""
MIN_JOINED_SKELETON = 5
"""A skeleton of a reject term with at least this many letters once squeezed ("fcker") is also found
inside a longer word ("@ssfcker"), where no ordinary word holds it."""

INFLECTIONS = ("s", "es", "ed", "d", "ing", "er", "ers", "y", "ies")
"""Endings that make a word a form of a term rather than another word ("assholes", "bullshits")."""

# The searches `TermForms.locate` may run, as bits of its `todo` (plain ints: flags cost on a hot path).
SHORT: Final = 1
"""Short-term spellings as whole tokens."""
MASKED: Final = 2
"""Tokens with a mask inside ("f*ck")."""
SPACED: Final = 4
"""Runs of single letters ("f u c k")."""
LONG: Final = 8
"""Long terms and phrases anywhere, through the term automaton."""
PHRASE: Final = 16
"""Phrases only, through the phrase automaton."""

# An ambiguous term may reject, but only when the model agrees; a review term holds its comment for certain.
_TIER_RANK: dict[Tier, int] = {"reject": 0, "review": 1, "ambiguous": 2}
_SPACED_RE = re.compile(r"(?<![^ ])[a-zI](?: [a-zI](?![^ ])){2,}")
# (Possessive: what the first run gives back can never be a '*', so backtracking through it, a step a
# character for a long token without one, could find nothing.)
_MASKED_TOKEN_RE = re.compile(r"(?<![^ ])[^ *]*+\*[^ ]*")
_SQUEEZED = frozenset("abcdefghijklmnopqrstuvwxyz" + nz.AMBIGUOUS)
"""The letters whose runs squeezing collapses (nz.SQUEEZE_RE); a repeated other character is no run."""
ENDS_AMBIGUOUS_RE = re.compile(r"(?<!I)I++(?![^ ])")
"""Placeholders that end a token: usually a closing '!' ("cunt!" folds to "cuntI"), asked where a hit ends
(`locate`). A run counts from its first placeholder only (the look-behind), and is taken whole (possessive):
a shorter part of it is followed by a placeholder, never a token's end, and giving back one placeholder at a
time cost a step per placeholder of a run followed by a letter."""
_PLACEHOLDER_RUN_RE = re.compile(f"{nz.AMBIGUOUS}+")
"""A whole run of placeholders: `_short_hits` keeps those that end their token (ENDS_AMBIGUOUS_RE's runs, found
without trying its look-behind at every placeholder of a long run)."""
FEW_TOKENS = 8
"""Up to this many tokens are looked for one by one with `str.find` (C speed, no pass over every token of
the comment); more are collected in one pass, so the cost never grows with their number times the length."""

HitKind = Literal["token", "joined", "masked", "spaced"]
"""How a candidate was found: as a whole token, inside a longer one, behind masks, across spaced letters."""

Rank = tuple[int, float, str]
"""Orders the terms found on one span, most severe first: tier, then the more common word, then the term."""

Keys = tuple[str, ...]
"""The match keys a spelling stands for (sorted)."""


class Hit(NamedTuple):
    """A candidate: [start, end) in the view searched, the match key of its term, and how it was found."""

    start: int
    end: int
    key: str
    kind: HitKind


class TokenRoles(NamedTuple):
    """What a token of the match view may take part in. A phrase found in the squeezed view spans tokens:
    the first ends with its first word, the middle ones are its middle words, the last begins with its last
    word. The masks have one bit per phrase (its index in `Phrases.words`)."""

    first: int
    middle: int
    last: int
    repeated: bool
    """The token is one letter repeated ("ff"): it squeezes to a single letter of a spaced run."""
    dirty: bool
    """The token may hold a candidate on its own."""


NO_ROLES: Final = TokenRoles(0, 0, 0, False, False)
"""The roles of almost every token."""


@dataclass(frozen=True, slots=True)
class Term:
    """The entry a match key reports: its canonical spelling, tier and clause."""

    key: str
    term: str
    tier: Tier
    clause: Clause


@dataclass(frozen=True, slots=True)
class Terms:
    """The entries by match key, as `select_terms` chose them."""

    by_key: Mapping[str, Term]
    stems: frozenset[str]
    """Keys whose derivatives ("shitstorm") are not benign words."""
    allowed: frozenset[str]
    """Keys of the allow tier: nothing that folds to one is reported."""


@dataclass(frozen=True, slots=True)
class Spellings:
    """Every spelling searched, by how it is searched → the keys it stands for."""

    short_q: Mapping[str, Keys]
    """Whole tokens of the squeezed view."""
    short_s: Mapping[str, Keys]
    """Whole tokens of the unsqueezed view: terms that squeezing would turn into an ordinary word."""
    long: Mapping[str, Keys]
    """Anywhere in the squeezed view (long terms, phrases)."""
    masked: Mapping[str, Keys]
    """Masked tokens ("f*ck") of the unsqueezed view."""
    derived: frozenset[str] = frozenset()
    """Generated spellings (morphology.py) that are ordinary words too ("assholes"): a whole token spelling
    one stands for its term, though it is an ordinary word."""
    generated: int = 0
    """How many spellings morphology.py generated (before ph and placeholder variants), for reports."""
    listed_longest: tuple[int, int] = (0, 0)
    """The longest `short_s` and `short_q` spellings of the listed terms, before the generated ones: the
    matcher looks for a disguised short term ("a$$") at the start of a word that far, no farther (the
    generated spellings are whole words: "muthafuckerahs" would make it read every word much farther)."""


@dataclass(frozen=True, slots=True)
class Phrases:
    """The multi-word spellings, split into words; a phrase's index is its bit in `TokenRoles`."""

    words: tuple[tuple[str, ...], ...]
    first: tuple[str, ...]
    """Every phrase's first word (a token ending with one may begin a phrase)."""
    last: tuple[str, ...]
    two_word: int
    """The phrases that have no middle word, as a mask."""
    longest: int
    """The most words in a phrase: how many tokens a phrase window spans."""
    tail: int
    first_tails: frozenset[str]
    """The last `tail` letters of every first word: a token ending otherwise ends with none (a set question
    spares most tokens `str.endswith` over every first word, which costs as much as the rest of their roles)."""
    head: int
    last_heads: frozenset[str]
    """The same for the first `head` letters of every last word."""
    first_of: Mapping[str, int]
    """Each first word → the phrases it begins (a mask); `last_of` and `middle_of` the same for the others
    (the keys of `middle_of` are the middle words)."""
    last_of: Mapping[str, int]
    middle_of: Mapping[str, int]
    first_lengths: tuple[int, ...]
    """The lengths of the first words, each once: the suffixes of a token that may be one."""
    last_lengths: tuple[int, ...]

    def roles(self, q: str) -> tuple[int, int, int]:
        """The phrases the squeezed token `q` may begin (it ends with their first word), continue (it is a
        middle word) and end (it begins with their last word), as masks: a dictionary lookup per distinct
        word length, not a comparison per phrase. (Where `q` is shorter than a length, `q[-n:]` is `q`
        itself, still a suffix of `q`.)"""
        get_first, get_last = self.first_of.get, self.last_of.get
        first = last = 0
        for n in self.first_lengths:
            first |= get_first(q[-n:], 0)
        for n in self.last_lengths:
            last |= get_last(q[:n], 0)
        return first, self.middle_of.get(q, 0), last


@dataclass(frozen=True, slots=True)
class BenignWords:
    """Dictionary words that hold a long term without being one, found in the literal view."""

    words: frozenset[str]
    automaton: Any
    """An ahocorasick.Automaton over `words`, empty when there are none."""
    longest: int

    def covers(self, literal: str, ls: int, le: int) -> bool:
        """Whether a benign word spelled out in the literal view covers literal[ls:le]."""
        if not len(self.automaton):
            return False
        lo = max(0, ls - self.longest)
        window = literal[lo : le + self.longest]
        for e, w in self.automaton.iter(window):
            if lo + e - len(w) + 1 <= ls and lo + e + 1 >= le:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The answers for wordfreq's most frequent words, found once at load time."""

    clean: frozenset[str]
    """Tokens with no roles: they hold no candidate and play no part in a phrase."""
    clean_or_half: frozenset[str]
    """The clean tokens, and those playing only the phrase roles allowed by `_clean_or_half`."""
    roles: Mapping[str, TokenRoles]
    """The roles of the other vocabulary tokens."""
    hits: Mapping[str, tuple[Hit, ...]]
    """What the dirty ones hold ("cocktail", "space"), within the token."""
    plain_benign: frozenset[str]
    """Benign words whose every hit lies inside them ("cocktail"): written plainly, they need no search."""


class Work:
    """What the engine did for one comment beyond the prefilter, in characters: every step adds the length
    of what it passes over (a C-level scan, a regex, an automaton, a Python loop) and one per candidate it
    handles, so tests can check that a comment's cost grows linearly with its length (matcher.py states the
    bound and why it holds). One per `find` call, never shared between threads."""

    __slots__ = ("chars",)

    def __init__(self) -> None:
        self.chars = 0


def token_starts(view: str, tok: str, work: Work | None = None) -> list[int]:
    """Where `tok` (no spaces) occurs in `view` as a whole space-separated token."""
    out = []
    n = len(tok)
    end = len(view)
    at = scanned = 0
    while at < end:
        i = view.find(tok, at)
        if i == -1:
            scanned += end - at
            break
        j = i + n
        scanned += j - at
        if (i == 0 or view[i - 1] == " ") and (j == end or view[j] == " "):
            out.append(i)
            at = j + 1
            continue
        # No whole occurrence begins inside the token holding this one: go on after that token. (Searching
        # on from i + 1 instead read the token again for each occurrence inside it: "fuckfuck…fuck".)
        space = view.find(" ", j)
        scanned += (end if space == -1 else space) - j
        if space == -1:
            break
        at = space + 1
    if work is not None:
        work.chars += scanned
    return out


def tokens_at(view: str, toks: Iterable[str], work: Work) -> dict[str, list[int]]:
    """Where each of `toks` (no spaces) occurs in `view` as a whole token: `token_starts` for a few, one
    pass over the view's tokens for more (see FEW_TOKENS)."""
    wanted = set(toks)
    if len(wanted) <= FEW_TOKENS:
        return {tok: token_starts(view, tok, work) for tok in wanted}
    out: dict[str, list[int]] = {tok: [] for tok in wanted}
    # The pieces between single spaces, their offsets summed (an empty piece is a run of spaces): a third of
    # the cost of a regex pass that builds a match object per token.
    at = 0
    for piece in view.split(" "):
        if piece in out:
            out[piece].append(at)
        at += len(piece) + 1
    work.chars += len(view)
    return out


def _short_hits(view: str, forms: frozenset[str], work: Work) -> set[str]:
    """Tokens of `view` that are a short-term form, or one followed by placeholders ('assIIII')."""
    hits = set(forms.intersection(view.split()))
    work.chars += len(view)
    if nz.AMBIGUOUS in view:
        # Each whole run of placeholders in one match, however long; those not ending their token are skipped.
        end = len(view)
        for m in _PLACEHOLDER_RUN_RE.finditer(view):
            run_start, run_end = m.span()
            if run_end < end and view[run_end] != " ":
                continue
            w0 = view.rfind(" ", 0, run_start) + 1  # one run per token: each token is read back once
            tok = view[w0:run_start]
            work.chars += run_end - w0
            if tok in forms:
                hits.add(tok + m.group())
        work.chars += len(view)
    return hits


@dataclass(frozen=True, slots=True)
class TermForms:
    """What the search looks for, and the two questions asked of a piece of the match view."""

    short_q: Mapping[str, Keys]
    short_s: Mapping[str, Keys]
    short_q_set: frozenset[str]
    """The keys of short_q, as a set for C-level intersections."""
    short_s_set: frozenset[str]
    masked: Mapping[str, Keys]
    terms_automaton: Any
    """ahocorasick.Automaton over the long spellings (phrases too) → (spelling, keys)."""
    phrase_automaton: Any
    """The same over the phrases only."""
    has_long: bool
    phrases: Phrases
    rank: Mapping[str, Rank]
    listed_longest: tuple[int, int] = (0, 0)
    """Spellings.listed_longest: how far the matcher reads a word for a disguised short term at its start."""

    def token_roles(self, tok: str) -> TokenRoles:
        """What a token of the match view may take part in: usually nothing (NO_ROLES).

        `locate`'s questions are per token except two: a phrase spans tokens (hence the phrase roles), and
        a run of single letters spans tokens (the matcher asks that of the whole comment)."""
        # Most tokens have no letter twice in a row, and then squeezing leaves them as they are: a comparison
        # of neighbours (in C where it was built) spares them the regex, which costs more per character.
        q = nz.squeeze(tok) if nz.has_repeat(tok) else tok
        repeated = len(q) == 1 and len(tok) > 1
        short_q, short_s, placeholder = self.short_q_set, self.short_s_set, nz.AMBIGUOUS
        dirty = (
            nz.MASK in tok
            or q in short_q
            or tok in short_s
            or (
                tok[-1] == placeholder
                and (q.rstrip(placeholder) in short_q or tok.rstrip(placeholder) in short_s)
            )
            or (self.has_long and next(self.terms_automaton.iter(q), None) is not None)
        )
        phrases = self.phrases
        # Whether `q` may play a part in a phrase at all, with fast exits (the tail and head sets) before
        # Phrases.roles: this runs for every token seen for the first time, and almost none play.
        if (
            q in phrases.middle_of
            or (q[-phrases.tail :] in phrases.first_tails and q.endswith(phrases.first))
            or (q[: phrases.head] in phrases.last_heads and q.startswith(phrases.last))
        ):
            return TokenRoles(*phrases.roles(q), repeated, dirty)
        return TokenRoles(0, 0, 0, repeated, dirty) if repeated or dirty else NO_ROLES

    def token_hits(self, tok: str, work: Work | None = None) -> tuple[Hit, ...]:
        """The candidates inside one token of the match view, spans within the token: what `locate` finds
        there when the token stands alone."""
        todo = SHORT | MASKED | (LONG if self.has_long else 0)
        return tuple(self.locate(tok, nz.squeeze(tok), todo, work))

    def locate(self, s: str, q: str, todo: int, work: Work | None = None) -> list[Hit]:
        """The candidates of the match view `s` (squeezed: `q`) that the searches in `todo` find; spans in
        `s`. Linear in len(s) and the candidates found (matcher.py)."""
        work = Work() if work is None else work
        # Built at the first hit: most searches of long texts find none.
        maps: list[offsets.RunDeletionMap] = []

        def q_to_s(qs: int, qe: int) -> tuple[int, int]:
            if not maps:
                maps.append(offsets.squeeze_map(s))
                work.chars += len(s)
            squeezed = maps[0]
            start = squeezed.before(qs)
            if start > 0 and s[start] in _SQUEEZED:
                # The kept character ends its run (the ones squeezed out before it repeat it), so the span
                # starts after the character kept before it. (Walking back along the run instead cost the
                # run's length for each candidate starting there.)
                start = squeezed.before(qs - 1) + 1 if qs > 0 else 0
            return start, squeezed.before(qe - 1) + 1

        found: list[Hit] = []

        if todo & SHORT:
            for squeezed_view, view, table, forms in (
                (True, q, self.short_q, self.short_q_set),
                (False, s, self.short_s, self.short_s_set),
            ):
                hits = _short_hits(view, forms, work) if table else set()
                for tok, starts in tokens_at(view, hits, work).items() if hits else ():
                    # Trailing placeholders are usually '!': the word without them first.
                    form = tok.rstrip(nz.AMBIGUOUS) or tok
                    if form not in table:
                        form = tok
                    for at in starts:
                        ss, se = q_to_s(at, at + len(form)) if squeezed_view else (at, at + len(form))
                        found.extend(Hit(ss, se, key, "token") for key in table[form])
        if todo & MASKED and nz.MASK in s:  # (the regex needs one; asked of a long token, it reads it twice)
            work.chars += len(s)
            for m in _MASKED_TOKEN_RE.finditer(s):
                tok = m.group()
                core = tok.strip(nz.MASK)
                work.chars += len(tok)
                if nz.MASK in core and (keys := self.masked.get(core)):
                    off = m.start() + tok.index(core)
                    found.append(Hit(off, off + len(core), min(keys, key=self.rank.__getitem__), "masked"))

        if todo & (LONG | PHRASE):
            automaton = self.terms_automaton if todo & LONG else self.phrase_automaton
            work.chars += len(q)
            for end, (form, keys) in automaton.iter(q) if len(automaton) else ():
                qs, qe = end - len(form) + 1, end + 1
                # Closing placeholders ("cunt!" folds to "cuntI") end the word: it was exclaimed, not joined.
                whole = (qs == 0 or q[qs - 1] == " ") and (
                    qe == len(q) or q[qe] == " " or ENDS_AMBIGUOUS_RE.match(q, qe) is not None
                )
                ss, se = q_to_s(qs, qe)
                for key in keys:
                    found.append(Hit(ss, se, key, "token" if whole else "joined"))

        if todo & SPACED:
            work.chars += len(q)
            for m in _SPACED_RE.finditer(q):
                letters = [i for i in range(m.start(), m.end()) if q[i] != " "]
                joined = "".join(q[i] for i in letters)
                jq = nz.squeeze(joined)
                j_origin = offsets.squeeze_origin(joined)
                work.chars += m.end() - m.start() + 3 * len(joined)
                candidates: list[tuple[int, int, Keys]] = []
                if keys := (self.short_q.get(jq) or self.short_s.get(joined)):
                    candidates.append((0, len(jq), keys))
                if self.has_long:
                    for end, (form, keys2) in self.terms_automaton.iter(jq):
                        candidates.append((end - len(form) + 1, end + 1, keys2))
                for js, je, keys in candidates:
                    first = letters[j_origin[js]]
                    last = letters[(j_origin[je] if je < len(j_origin) else len(joined)) - 1]
                    ss, _ = q_to_s(first, first + 1)
                    _, se = q_to_s(last, last + 1)
                    for key in keys:
                        found.append(Hit(ss, se, key, "spaced"))
        work.chars += len(found)
        return found


@dataclass(frozen=True, slots=True)
class Index:
    """Everything built once from the entries. Immutable: a reload builds another."""

    version: str
    """The first 12 digits of `entries_digest`."""
    terms: Mapping[str, Term]
    forms: TermForms
    benign: BenignWords
    vocabulary: Vocabulary
    common: frozenset[str]
    """Ordinary words (Zipf >= COMMON_ZIPF): their look-alikes are not suspicious, and they end words."""
    stems: frozenset[str]
    """Keys whose derivatives ("shitstorm") count (compounds.py decides what a derivative is)."""
    parts: compounds.Parts
    """The words compounds split into, with their Zipf frequency (compounds.parts_table)."""
    tables: nz.FoldTables
    derived: frozenset[str] = frozenset()
    """Spellings.derived: ordinary words that are a term's inflection ("assholes"), reported as the term."""


# ------------------------------------------------------------------------------------------------ helpers
def match_key(term: str) -> str:
    """A term's letters as the match view reads them, masks and separators as single spaces."""
    return " ".join(nz.fold_match(term).replace(nz.MASK, " ").split())


def _ph_variants(form: str) -> set[str]:
    """Spellings of `form` with f written as 'ph' ("phuck", "phaggot"), a leet that is two letters long."""
    positions = [i for i, c in enumerate(form) if c == "f"]
    if not positions:
        return {form}
    if len(positions) > MAX_PH_POSITIONS:
        return {form, form.replace("f", "ph")}
    out = set()
    for choice in itertools.product((False, True), repeat=len(positions)):
        chars = list(form)
        for pos, use in zip(positions, choice, strict=True):
            if use:
                chars[pos] = "ph"
        out.add("".join(chars))
    return out


def _placeholder_variants(form: str) -> set[str]:
    """Spellings of `form` with any i or l written as the ambiguous placeholder."""
    positions = [i for i, c in enumerate(form) if c in "il"]
    if len(positions) > MAX_AMBIGUOUS_POSITIONS:
        return {form, "".join(nz.AMBIGUOUS if c in "il" else c for c in form)}
    out = set()
    for choice in itertools.product((False, True), repeat=len(positions)):
        chars = list(form)
        for pos, use in zip(positions, choice, strict=True):
            if use:
                chars[pos] = nz.AMBIGUOUS
        out.add("".join(chars))
    return out


def _spellings(form: str) -> set[str]:
    return {v for p in _ph_variants(form) for v in _placeholder_variants(p)}


def _repeat_variants(form: str) -> set[str]:
    """Spellings with each run of letters lengthened by up to MAX_EXTRA_REPEATS (never shortened)."""
    runs = [(c, len(list(g))) for c, g in itertools.groupby(form)]
    # Beyond three letters only the doubled runs vary ("titties": the t's), which bounds the variants.
    vary = len(form) <= 3
    options = [
        [c * (n + extra) for extra in range(MAX_EXTRA_REPEATS + 1)] if vary or n > 1 else [c * n]
        for c, n in runs
    ]
    return {"".join(p) for p in itertools.product(*options)}


def _masked_patterns(key: str) -> set[str]:
    """Masked spellings of a one-word key: one or two letters each hidden by one `*` ("f*ck", "c**t"), and a
    single `*` hiding two adjacent letters ("f*k", "c*t"), since people mask with one star whatever they
    hide. The first letter is always visible and at least as many letters show as are hidden."""
    out: set[str] = set()
    if " " in key or len(key) < 3:
        return out
    for n_masked in (1, 2):
        if len(key) - n_masked < max(2, n_masked):
            continue
        for pos in itertools.combinations(range(1, len(key)), n_masked):
            out.add("".join(nz.MASK if i in pos else c for i, c in enumerate(key)))
    if len(key) >= 4:
        for i in range(1, len(key) - 2):  # the hidden pair is inside the word: the last letter shows
            out.add(key[:i] + nz.MASK + key[i + 2 :])
    return out


def _automaton(spellings: Iterable[tuple[str, Keys]]) -> Any:
    """An Aho-Corasick automaton yielding (spelling, keys) for each spelling found."""
    automaton = ahocorasick.Automaton()
    for form, keys in spellings:
        automaton.add_word(form, (form, keys))
    if len(automaton):
        automaton.make_automaton()
    return automaton


def _frozen(table: dict[str, set[str]]) -> dict[str, Keys]:
    return {k: tuple(sorted(v)) for k, v in table.items()}


@functools.lru_cache(maxsize=1)
def dictionary() -> tuple[tuple[str, ...], frozenset[str]]:
    """wordfreq's English words (letters only, most frequent first), and the ordinary ones among them."""
    ranked = wordfreq.top_n_list("en", 10**7)
    lo, hi = 0, len(ranked)
    while lo < hi:  # the first word below COMMON_ZIPF
        mid = (lo + hi) // 2
        if wordfreq.zipf_frequency(ranked[mid], "en") >= COMMON_ZIPF:
            lo = mid + 1
        else:
            hi = mid
    words = tuple(w for w in ranked if w.isalpha())
    common = frozenset(w for w in ranked[:lo] if w.isalpha())
    return words, common


# ------------------------------------------------------------------------------------------ build steps
def select_terms(entries: Mapping[str, Entry]) -> Terms:
    """Each entry's match key, and per key the entry that reports it. Several spellings fold to one key
    ("f*ck" and "fuck"), and the search finds keys, not spellings: the most severe tier wins, then the
    spelling that is the key itself. An allowed key drops every entry folding to it, so allowing one
    spelling allows them all."""
    by_key: dict[str, Term] = {}
    stems: set[str] = set()
    allowed: set[str] = set()
    for e in entries.values():
        key = match_key(e.term)
        if not key:
            raise WordListError(f"{e.source}: entry {e.term!r} has no letters once folded")
        if e.tier == "allow":
            allowed.add(key)
            continue
        if e.stem:
            stems.add(key)
        cand = Term(key=key, term=e.term, tier=e.tier, clause=e.clause or "obscene")
        old = by_key.get(key)
        if old is None or (_TIER_RANK[cand.tier], cand.term != key, cand.term) < (
            _TIER_RANK[old.tier],
            old.term != key,
            old.term,
        ):
            by_key[key] = cand
    for key in allowed:
        by_key.pop(key, None)
    return Terms(by_key=by_key, stems=frozenset(stems), allowed=frozenset(allowed))


def rank_terms(terms: Mapping[str, Term]) -> dict[str, Rank]:
    """Where several keys are found on one span, the most severe tier is reported, then the more common
    word (the likelier reading), then the first alphabetically, so the answer never depends on the order
    in which the search found them."""
    return {
        key: (_TIER_RANK[t.tier], -wordfreq.zipf_frequency(t.term, "en"), t.term) for key, t in terms.items()
    }


def _inside_ordinary_words(keys: Iterable[str], common: Iterable[str]) -> set[str]:
    """Squeezed term forms found inside (not equal to) an ordinary word's squeezed form."""
    automaton = ahocorasick.Automaton()
    for key in keys:
        q = nz.squeeze(key)
        automaton.add_word(q, q)
    automaton.make_automaton()
    out: set[str] = set()
    for w in common:
        qw = nz.squeeze(w)
        for _end, form in automaton.iter(qw):
            # An inflection of the term itself ("assholes") is not an ordinary word containing it.
            if form != qw and not any(qw == form + suffix for suffix in INFLECTIONS):
                out.add(form)
    return out


@functools.lru_cache(maxsize=1)
def _word_ranks() -> Mapping[str, int]:
    """Each dictionary word's place in wordfreq's list, most frequent first."""
    return {w: i for i, w in enumerate(dictionary()[0])}


@functools.lru_cache(maxsize=1)
def recall_lexicon() -> mo.Lexicon:
    """What morphology.py's guards ask of the lexicons (lexicon.py), built once per process."""
    ranks = _word_ranks()
    unknown = len(ranks)
    spelling = lx.spelling_words()
    common = dictionary()[1]
    return mo.Lexicon(
        spelling=spelling,
        common=common,
        rank=lambda w: ranks.get(w, unknown),
        squeezed=mo.squeezed_counts(spelling | common),
        squeezed_all=mo.squeezed_counts(spelling.union(dictionary()[0])),
        zipf=lx.zipf,
    )


def _generated_variants(form: str) -> set[str]:
    """A generated spelling with 'ph' for f and the placeholder for i and l, bounded
    (MAX_GENERATED_POSITIONS)."""
    return {
        v
        for p in mo.bounded_variants(form, "f", MAX_GENERATED_POSITIONS, lambda _c: "ph")
        for v in mo.bounded_variants(p, "il", MAX_GENERATED_POSITIONS, lambda _c: nz.AMBIGUOUS)
    }


def spell_generated(
    terms: Mapping[str, Term],
    common: frozenset[str],
    lexicon: mo.Lexicon,
    allowed: Iterable[str],
    tables: tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]],
) -> tuple[frozenset[str], int]:
    """Add morphology.py's spellings of the keys to the whole-token tables (`short_q` once squeezed,
    `short_s` as written where squeezing would make an ordinary word of it: "coons" → "cons") and, for long
    skeletons of reject terms that no ordinary word holds, to `long` ("@ssfcker"). Returns the generated
    spellings that are ordinary words too, and how many were generated."""
    short_q, short_s, long = tables
    one_word = {k: (t.term, t.tier, t.clause) for k, t in terms.items() if " " not in k}
    generated = mo.generate(one_word, lexicon, allowed)
    unknown = lexicon.rank("")
    derived = frozenset(f for f in generated.whole if f in common)
    joined: dict[str, set[str]] = {}
    for form, all_keys in generated.whole.items():
        keys = generated.own.get(form) or all_keys
        q = nz.squeeze(form)
        if q == form and lexicon.collides_with_word(form):
            # An ordinary word squeezes to it ("cumings" of "Cummings"): searching it would take that word's
            # protection as a benign word (benign_words skips the terms' own spellings).
            continue
        if lexicon.collides(form) or (q != form and lexicon.rank(q) < unknown):
            # Squeezed, it is another word or token ("heels", "hors" of "hoors"): only as written.
            for v in _generated_variants(form):
                for n in range(2):
                    short_s.setdefault(v + nz.AMBIGUOUS * n, set()).update(keys)
            continue
        for v in _generated_variants(q):
            short_q.setdefault(v, set()).update(keys)
            short_q.setdefault(v + nz.AMBIGUOUS, set()).update(keys)
        if form in generated.skeletons and len(q) >= MIN_JOINED_SKELETON:
            reject = {k for k in keys if terms[k].tier == "reject"}
            if reject:
                joined.setdefault(q, set()).update(reject)
    inside = _inside_ordinary_words(joined, dictionary()[0])  # every word wordfreq knows ("Ofsted")
    for q, keys in joined.items():
        if q not in inside:
            for v in _generated_variants(q):
                long.setdefault(v, set()).update(keys)
    return derived, len(generated.whole)


def spell_terms(
    terms: Mapping[str, Term],
    common: frozenset[str],
    lexicon: mo.Lexicon | None = None,
    allowed: Iterable[str] = (),
) -> Spellings:
    """Decide how each key is searched (see the module's docstring) and spell it every way it may be
    written, so that the comment side is folded once and never expanded into variants. With a `lexicon`,
    also the inflections, phonetic spellings and skeletons of morphology.py (`spell_generated`)."""
    short_q: dict[str, set[str]] = {}
    short_s: dict[str, set[str]] = {}
    long: dict[str, set[str]] = {}
    masked: dict[str, set[str]] = {}
    # Squeezed terms that occur inside ordinary words ("meth" in "method", "ases" in "cases").
    in_common = _inside_ordinary_words(terms, common)
    for key, entry in terms.items():
        qkey = nz.squeeze(key)
        letters = len(qkey.replace(" ", ""))
        # A review word is searched inside other words only where no ordinary word contains it:
        # "asshole" in "youareanasshole" yes, "meth" in "method" or "oral" in "moral" no (noise, and a
        # benign-word check for most clean comments). Reject words always are; benign words cancel. An
        # ambiguous word never is: its offensive reading needs the sentence around it, which a word joined
        # to others does not show ("peacock", "Dickens"); its derivatives are listed terms of their own.
        substring = " " in qkey or (
            letters >= LONG_MIN_LETTERS
            and (entry.tier == "reject" or (entry.tier == "review" and qkey not in in_common))
        )
        if qkey != key and (qkey in common or (substring and qkey in in_common)):
            # Squeezing turns it into an ordinary word ("reefer" → "refer", "ass" → "as"): match only
            # whole tokens with at least the listed repeats.
            for r in _repeat_variants(key):
                for v in _placeholder_variants(r):
                    for n in range(TRAILING_PLACEHOLDERS + 1):
                        short_s.setdefault(v + nz.AMBIGUOUS * n, set()).add(key)
        elif substring:
            for v in _spellings(qkey):
                long.setdefault(v, set()).add(key)
        else:
            for v in _spellings(qkey):
                short_q.setdefault(v, set()).add(key)
                short_q.setdefault(v + nz.AMBIGUOUS, set()).add(key)
        for pattern in _masked_patterns(key):
            masked.setdefault(pattern, set()).add(key)
    derived: frozenset[str] = frozenset()
    generated = 0
    listed_longest = (max(map(len, short_s), default=0), max(map(len, short_q), default=0))
    if lexicon is not None:
        derived, generated = spell_generated(terms, common, lexicon, allowed, (short_q, short_s, long))
    return Spellings(
        short_q=_frozen(short_q),
        short_s=_frozen(short_s),
        long=_frozen(long),
        masked=_frozen(masked),
        derived=derived,
        generated=generated,
        listed_longest=listed_longest,
    )


def build_forms(spellings: Spellings, rank: Mapping[str, Rank]) -> TermForms:
    """The spellings as the search reads them: sets for token lookups, automata for the long ones (one
    over all of them, one over the phrases alone for phrase windows), and the phrases' words."""
    phrase_words = sorted(tuple(v.split(" ")) for v in spellings.long if " " in v)
    first = {p[0] for p in phrase_words}
    last = {p[-1] for p in phrase_words}
    # (No first or last word is empty: a spelling's words are separated by single spaces.)
    tail = min(3, *map(len, first)) if first else 1
    head = min(3, *map(len, last)) if last else 1
    first_of: dict[str, int] = {}
    last_of: dict[str, int] = {}
    middle_of: dict[str, int] = {}
    for number, words in enumerate(phrase_words):
        first_of[words[0]] = first_of.get(words[0], 0) | 1 << number
        last_of[words[-1]] = last_of.get(words[-1], 0) | 1 << number
        for w in set(words[1:-1]):
            middle_of[w] = middle_of.get(w, 0) | 1 << number
    phrases = Phrases(
        words=tuple(phrase_words),
        first=tuple(sorted(first)),
        last=tuple(sorted(last)),
        two_word=sum(1 << n for n, p in enumerate(phrase_words) if len(p) == 2),
        longest=max((len(p) for p in phrase_words), default=0),
        tail=tail,
        first_tails=frozenset(w[-tail:] for w in first),
        head=head,
        last_heads=frozenset(w[:head] for w in last),
        first_of=first_of,
        last_of=last_of,
        middle_of=middle_of,
        first_lengths=tuple(sorted(set(map(len, first)))),
        last_lengths=tuple(sorted(set(map(len, last)))),
    )
    return TermForms(
        short_q=spellings.short_q,
        short_s=spellings.short_s,
        short_q_set=frozenset(spellings.short_q),
        short_s_set=frozenset(spellings.short_s),
        masked=spellings.masked,
        terms_automaton=_automaton(spellings.long.items()),
        phrase_automaton=_automaton((v, keys) for v, keys in spellings.long.items() if " " in v),
        has_long=bool(spellings.long),
        phrases=phrases,
        rank=rank,
        listed_longest=spellings.listed_longest,
    )


def benign_words(
    terms: Terms,
    spellings: Spellings,
    forms: TermForms,
    words: Iterable[str],
    parts: compounds.Parts,
) -> BenignWords:
    """Dictionary words containing a long term ("Scunthorpe", "saltwater", "cocktail"): a hit inside one,
    written out literally, is no hit. Not benign: the terms' own spellings, and derivatives of a stem, words
    that split into the stem (perhaps inflected) and other words ("shit|storm", "bull|shits": compounds.py),
    where the stem is a part and not spread across two ("sal|twat|er"). Allowed keys that hold a long term
    protect in the same way."""
    benign: set[str] = set()
    automaton = forms.terms_automaton
    if forms.has_long:
        term_forms = set(spellings.long) | set(spellings.short_q) | set(spellings.short_s)
        stem_res = {k: _literal_pattern(k) for k in terms.stems}
        for w in words:
            lw = nz.fold_literal(w)
            qw = nz.squeeze(nz.fold_match(lw))
            if qw in term_forms:
                continue
            hits = [keys for _end, (_v, keys) in automaton.iter(qw)]
            if not hits:
                continue
            if any(_is_derivative(lw, k, stem_res[k], parts) for keys in hits for k in keys if k in stem_res):
                continue  # a derivative ("shitstorm", "bullshits"), not a benign word
            benign.add(lw)
        for key in terms.allowed:
            if any(True for _ in automaton.iter(nz.squeeze(key))):
                benign.add(key)
    literal = ahocorasick.Automaton()
    for w in benign:
        literal.add_word(w, w)
    if len(literal):
        literal.make_automaton()
    return BenignWords(
        words=frozenset(benign), automaton=literal, longest=max((len(w) for w in benign), default=0)
    )


def read_vocabulary(forms: TermForms, benign: frozenset[str], words: tuple[str, ...]) -> Vocabulary:
    """Ask the per-token questions of the most frequent words once, so that a comment made of them is
    answered by one set lookup, and a dirty one among them ("cocktail") by a dictionary lookup."""
    tokens = [nz.fold_match(w) for w in words[:CLEAN_VOCABULARY]]
    # With the rank each is weighed by: a word's own, an exclaimed word's that of the word, numbers last.
    ranked = list(enumerate(tokens))
    ranked += [(rank, t + nz.AMBIGUOUS) for rank, t in enumerate(tokens[:EXCLAIMED_VOCABULARY])]
    ranked += [(len(tokens), t) for t in number_tokens()]
    clean: set[str] = set()
    roles: dict[str, TokenRoles] = {}
    weight: dict[str, float] = {}  # how often a token is met, roughly (wordfreq ranks by frequency)
    for rank, t in ranked:
        if not t or " " in t or t in weight:
            continue
        weight[t] = 1 / (rank + 10)
        r = forms.token_roles(t)
        if r != NO_ROLES:
            roles[t] = r
        else:
            clean.add(t)
    hits = {t: forms.token_hits(t) for t, r in roles.items() if r.dirty}
    plain_benign = frozenset(
        t
        for t, found in hits.items()
        if t in benign and t.isascii() and t.isalpha() and all(h.kind == "joined" for h in found)
    )
    return Vocabulary(
        clean=frozenset(clean),
        clean_or_half=_clean_or_half(frozenset(clean), roles, weight, forms.phrases),
        roles=roles,
        hits=hits,
        plain_benign=plain_benign,
    )


@functools.lru_cache(maxsize=1)
def number_tokens() -> tuple[str, ...]:
    """What numbers become in the match view, where digits read as leet ("1990" → "Iggo", "11am" → "IIam",
    "3.50" → "eso"): every string of up to NUMBER_TOKEN_LETTERS of the letters digits fold to, and the shorter
    ones with an ending ("s", "am", "k", "th"). Those without roles join the clean vocabulary, so a comment
    with prices, scores and years stays on the prefilter's path; adding a clean token never changes a
    result, only what it costs."""
    letters = sorted({nz.fold_match(d) for d in "0123456789"} - {" ", ""})
    out: list[str] = []
    for n in range(1, NUMBER_TOKEN_LETTERS + 1):
        out.extend("".join(p) for p in itertools.product(letters, repeat=n))
    short = [t for t in out if len(t) <= NUMBER_TOKEN_LETTERS - 1]
    out.extend(t + end for t in short for end in NUMBER_ENDINGS)
    return tuple(out)


def _clean_or_half(
    clean: frozenset[str], roles: Mapping[str, TokenRoles], weight: Mapping[str, float], phrases: Phrases
) -> frozenset[str]:
    """The clean tokens, and those that may only play half of a phrase. A phrase needs a token for its
    first word and one for its last: allowing, for each phrase, only the more frequent of those two kinds of
    tokens still rules it out when no token outside this set is present ("of" may end "jack off", "she"
    begin "she male")."""
    count = len(phrases.words)
    first_weight = [0.0] * count
    last_weight = [0.0] * count
    for t, r in roles.items():
        for n in range(count):
            if r.first >> n & 1:
                first_weight[n] += weight[t]
            if r.last >> n & 1:
                last_weight[n] += weight[t]
    allowed_first = sum(1 << n for n in range(count) if first_weight[n] >= last_weight[n])
    return clean.union(
        t
        for t, r in roles.items()
        if not (r.repeated or r.dirty or r.first & ~allowed_first or r.last & allowed_first)
    )


def _literal_pattern(key: str) -> re.Pattern[str]:
    """The key as a plain word spells it, each letter perhaps repeated ("shitter" for "shiter")."""
    return re.compile("".join(("[il]" if c == nz.AMBIGUOUS else re.escape(c)) + "+" for c in nz.squeeze(key)))


def _is_derivative(word: str, key: str, pattern: re.Pattern[str], parts: compounds.Parts) -> bool:
    """Whether the stem `key` is written in `word` as a true part of it, or the word is the stem with an
    inflection ("shits"): compounds.py."""
    for m in pattern.finditer(word):
        if compounds.is_inflected(word, m.start(), m.end()):
            return True
        if compounds.is_true_part(word, m.start(), m.end(), parts, compounds.SUFFIXES):
            return True
    return False


def build_index(entries: Mapping[str, Entry]) -> Index:
    """The index of `entries` (about a second: most of it folds the dictionary for benign words and
    asks the per-token questions of the vocabulary)."""
    words, common = dictionary()
    parts = compounds.parts_table()
    terms = select_terms(entries)
    spellings = spell_terms(terms.by_key, common, recall_lexicon(), terms.allowed)
    forms = build_forms(spellings, rank_terms(terms.by_key))
    spelling_only = lx.spelling_words().difference(words)
    benign = benign_words(terms, spellings, forms, (*words, *spelling_only), parts)
    return Index(
        version=entries_digest(entries)[:12],
        terms=terms.by_key,
        forms=forms,
        benign=benign,
        vocabulary=read_vocabulary(forms, benign.words, (*words, *sorted(spelling_only))),
        common=common,
        stems=terms.stems,
        parts=parts,
        tables=nz.tables(),
        derived=spellings.derived,
    )
