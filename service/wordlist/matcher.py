"""The word-list engine: listed terms found in a comment, with spans in the original text and evidence.

How a comment is searched (normalize.py describes the folded views):

1. **Prefilter** (every comment, C-level operations only): fold the text to the match view `s` (ASCII through
   `bytes.translate`), split it into tokens and ask one set question: are all of them clean words of the
   vocabulary? The vocabulary is wordfreq's most frequent words, each checked once at load time by the
   per-token search below: a word is clean if it holds no candidate on its own and plays no part in a
   phrase (or only a part whose other words are then ruled out, see `_clean_or_half`). Then one regex asks
   for a run of single spaced letters ("f u c k"). Most comments stop here without squeezing anything.
2. **Tokens** (only comments with a token outside that set): each such token is looked up (vocabulary
   words at load time, others once and cached): is it "dirty" (may hold a candidate on its own), which
   phrase words may it be, is it one repeated letter. A comment whose unknown tokens are all clean and
   that cannot hold a phrase stops here.
3. **Search** (only the dirty tokens, and windows where a phrase or a run of single letters may start):
   short terms as whole tokens, masked tokens, long terms through one automaton, each within its token,
   squeezing repeats ("fuuuck" → "fuck") only there; a token's hits are cached. The search of the whole
   squeezed text (`find_without_prefilter`) gives the same answers and the tests hold them equal.
4. **Finish**: map each hit to the original text, cancel hits that lie inside a benign word written
   literally, attach evidence, choose among overlapping hits (below).

Short terms (up to three letters once squeezed: "ass", "cum", "tit") and review-tier terms only match whole
tokens, except a short term disguised with a leet symbol at the start of a longer word ("a$$assin"); longer
reject-tier terms and phrases match anywhere through one Aho-Corasick automaton, which is what finds
"youfuckingidiot". A term whose squeezed form is an ordinary word, or sits inside one ("reefer" → "refer",
"asses" → "ases" in "cases"), matches whole tokens only, with its listed repeats. Terms written with f also
match with "ph" for it ("phuck"). Benign words ("Scunthorpe", "cocktail", "therapist", "shiitake") are the
dictionary words of `wordfreq` that contain a long term, other than derivatives of a listed stem ("shitstorm",
"bullshits"); a benign word cancels a hit only where the literal view spells it out.

Overlapping hits: where hits begin together inside a word, the longest one that ends a word wins (the word
ends there, or the rest of it is, or begins with, a dictionary word of at least MIN_REST_WORD letters):
"shitstorm" reports "shit" (the rest is "storm"), not "shits" (the rest would be "torm"), and
"youfuckingidiot" reports "fucking". A hit that starts inside another and adds only an inflection is dropped
("bullshits" reports "bullshit", not also "shits"). Otherwise the widest hit wins ("motherfucker").
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import pathlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import ahocorasick
import wordfreq

from service.moderation.types import WordMatch
from service.wordlist import normalize as nz
from service.wordlist import offsets
from service.wordlist.rules import Entry, WordListError, load_entries

log = logging.getLogger(__name__)

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
CLEAN_VOCABULARY = 100_000
"""The most frequent dictionary words whose tokens are checked once at load time (see _clean_tokens)."""
EXCLAIMED_VOCABULARY = 30_000
"""Of those, the most frequent also as followed by '!' ("great!" folds to "greatI", a token of its own)."""
TOKEN_CACHE_SIZE = 65_536
"""Verdicts kept for tokens outside that vocabulary (names, typos); the cache is emptied when full."""
MAX_CACHED_TOKEN = 64
"""Longer tokens are not cached, so a flood of long distinct tokens cannot grow the caches' memory."""
MAX_PH_POSITIONS = 2
"""A term spelled with f also matches with 'ph' for each f, up to this many f's (beyond: all or none)."""
MIN_REST_WORD = 4
"""After a term inside a word, a dictionary word of at least this many letters marks a word boundary."""

_TOKEN_RE = re.compile(r"[^ ]+")
_SPACED_RE = re.compile(r"(?<![^ ])[a-zI](?: [a-zI](?![^ ])){2,}")
_SPACED_QUICK_RE = re.compile(r" [a-zI] [a-zI] [a-zI](?![^ ])")
# The same question asked of the unsqueezed view; where a token is one repeated letter ("ff", "mm"), which
# squeezes to a single letter, the slower form with back-references.
_SPACED_UNSQUEEZED_RE = re.compile(r" [a-zI] +[a-zI] +[a-zI](?![^ ])")
_SPACED_REPEATED_RE = re.compile(r" ([a-zI])\1* +([a-zI])\2* +([a-zI])\3*(?![^ ])")
# A whole run of single letters (each perhaps repeated) in the unsqueezed view: a window for _SPACED_RE.
_SPACED_RUN_RE = re.compile(r"(?<![^ ])([a-zI])\1*(?: +([a-zI])\2*(?![^ ])){2,}")

_MASKED_TOKEN_RE = re.compile(r"(?<![^ ])[^ *]*\*[^ ]*")
_ENDS_AMBIGUOUS_RE = re.compile(r"I+(?![^ ])")
# Leet symbols that, inside a word, show intent (digits are left out: "mp3s", "b2b"); find() tests for each.
_DISGUISE_CHARS = "$@|+€§"
_DISGUISE_RE = re.compile(r"(?<=[^\W\d_])[$@|+€§]+(?=[^\W\d_])")
_TIER_RANK = {"reject": 0, "review": 1}
_NO_ROLES = (0, 0, 0, False, False)
"""A token's roles: bit masks over the phrases of which it may be the first, a middle or the last word;
whether it is one repeated letter; whether it may hold a candidate on its own ("dirty")."""
_INFLECTIONS = ("s", "es", "ed", "d", "ing", "er", "ers", "y", "ies")
_SHORT, _MASKED, _SPACED, _LONG, _PHRASE = 1, 2, 4, 8, 16
"""The searches of _locate_in: short-term tokens, masked tokens, runs of single letters, long terms and
phrases anywhere, phrases only."""


@dataclass(frozen=True)
class _Term:
    key: str
    term: str
    tier: str
    clause: str


def _match_key(term: str) -> str:
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


def _spellings(form: str) -> set[str]:
    return {v for p in _ph_variants(form) for v in _placeholder_variants(p)}


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


@functools.lru_cache(maxsize=1)
def _dictionary() -> tuple[tuple[str, ...], frozenset[str]]:
    """wordfreq's English words (letters only), and the ordinary ones among them."""
    ranked = wordfreq.top_n_list("en", 10**7)  # most frequent first
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


def _end_of_tokens(view: str, at: int, count: int) -> int:
    """Where the `count`-th token from the one starting at `at` ends (tokens are separated by spaces)."""
    end = len(view)
    for _ in range(count):
        e = view.find(" ", at)
        if e == -1:
            return len(view)
        end = e
        while e < len(view) and view[e] == " ":
            e += 1
        at = e
    return end


def _token_starts(view: str, tok: str) -> list[int]:
    """Where `tok` occurs in `view` as a whole space-separated token."""
    out = []
    n = len(tok)
    i = view.find(tok)
    while i != -1:
        if (i == 0 or view[i - 1] == " ") and (i + n == len(view) or view[i + n] == " "):
            out.append(i)
        i = view.find(tok, i + 1)
    return out


def entries_digest(entries: dict[str, Entry]) -> str:
    """sha256 over every effective entry: the word list's identity (its version is the first 12 digits)."""
    digest = hashlib.sha256()
    for term in sorted(entries):
        e = entries[term]
        digest.update(f"{term}\t{e.tier}\t{e.clause}\t{e.stem}\n".encode())
    return digest.hexdigest()


BUILT_KEPT = 2
"""Built word lists kept per process: the current one and the one before a reload."""
_BUILT: OrderedDict[str, WordList] = OrderedDict()
_BUILT_LOCK = threading.Lock()


class WordList:
    """An immutable, loaded word list. Build with `WordList.load(rules_dir)`."""

    version: str

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._build(entries)

    @classmethod
    def load(cls, rules_dir: pathlib.Path) -> WordList:
        """The word list of `rules_dir`. Building one takes about a second; a process that loads the same
        entries again (an app restarted in tests, each rescoring chunk's pipeline) gets the one it built."""
        entries = load_entries(pathlib.Path(rules_dir))
        key = entries_digest(entries)
        with _BUILT_LOCK:
            built = _BUILT.get(key)
            if built is not None:
                _BUILT.move_to_end(key)
                return built
        built = cls(entries)
        with _BUILT_LOCK:
            _BUILT[key] = built
            while len(_BUILT) > BUILT_KEPT:
                _BUILT.popitem(last=False)
        return built

    # ----------------------------------------------------------------------------------------- building
    def _build(self, entries: dict[str, Entry]) -> None:
        tables = nz.tables()
        self._match_table = tables.match
        self._hot_table = tables.hot
        self._literal_table = tables.literal
        self._steps = tables.steps
        words, common = _dictionary()
        self._common = common

        self.version = entries_digest(entries)[:12]

        # key → the most severe entry among the terms that fold to it
        by_key: dict[str, _Term] = {}
        stems: set[str] = set()
        allowed_keys: set[str] = set()
        for e in entries.values():
            key = _match_key(e.term)
            if not key:
                raise WordListError(f"{e.source}: entry {e.term!r} has no letters once folded")
            if e.tier == "allow":
                allowed_keys.add(key)
                continue
            if e.stem:
                stems.add(key)
            cand = _Term(key=key, term=e.term, tier=e.tier, clause=e.clause or "obscene")
            old = by_key.get(key)
            if old is None or (_TIER_RANK[cand.tier], cand.term != key, cand.term) < (
                _TIER_RANK[old.tier],
                old.term != key,
                old.term,
            ):
                by_key[key] = cand
        for key in allowed_keys:  # an allowed spelling allows every spelling that folds the same way
            by_key.pop(key, None)
        self._terms = by_key

        short_q: dict[str, set[str]] = {}
        short_s: dict[str, set[str]] = {}
        long_v: dict[str, set[str]] = {}
        masked: dict[str, set[str]] = {}
        # Squeezed terms that occur inside ordinary words ("meth" in "method", "ases" in "cases").
        in_common = self._inside_words(by_key, common)
        for key, entry in by_key.items():
            qkey = nz.squeeze(key)
            letters = len(qkey.replace(" ", ""))
            # A review word is searched inside other words only where no ordinary word contains it:
            # "asshole" in "youareanasshole" yes, "meth" in "method" or "oral" in "moral" no (noise, and a
            # benign-word check for most clean comments). Reject words always are; benign words cancel.
            substring = " " in qkey or (
                letters >= LONG_MIN_LETTERS and (entry.tier == "reject" or qkey not in in_common)
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
                    long_v.setdefault(v, set()).add(key)
            else:
                for v in _spellings(qkey):
                    short_q.setdefault(v, set()).add(key)
                    short_q.setdefault(v + nz.AMBIGUOUS, set()).add(key)
            for pattern in _masked_patterns(key):
                masked.setdefault(pattern, set()).add(key)
        self._short_q = {k: tuple(sorted(v)) for k, v in short_q.items()}
        self._short_s = {k: tuple(sorted(v)) for k, v in short_s.items()}
        self._masked = {k: tuple(sorted(v)) for k, v in masked.items()}
        self._short_q_set = frozenset(self._short_q)
        self._short_s_set = frozenset(self._short_s)
        term_forms = set(long_v) | set(short_q) | set(short_s)

        automaton = ahocorasick.Automaton()
        for v, keys in long_v.items():
            automaton.add_word(v, (True, v, tuple(sorted(keys))))
        if len(automaton):
            automaton.make_automaton()
        self._term_automaton = automaton
        phrase_automaton = ahocorasick.Automaton()
        for v, keys in long_v.items():
            if " " in v:
                phrase_automaton.add_word(v, (True, v, tuple(sorted(keys))))
        if len(phrase_automaton):
            phrase_automaton.make_automaton()
        self._phrase_automaton = phrase_automaton

        # Benign words: dictionary words containing a long term, unless they are terms themselves or
        # begin or end with a stem (derivatives such as "shitstorm"). Site-allowed terms protect too.
        benign: set[str] = set()
        stem_endings = {k: tuple(k + x for x in _INFLECTIONS) for k in stems}
        for w in words:
            lw = nz.fold_literal(w)
            qw = nz.squeeze(nz.fold_match(lw))
            if qw in term_forms or qw in long_v or not len(automaton):
                continue
            hits = [keys for _end, (_is_term, _v, keys) in automaton.iter(qw)]
            if not hits:
                continue
            if any(
                k in stems and (lw.startswith(k) or lw.endswith(k) or lw.endswith(stem_endings[k]))
                for keys in hits
                for k in keys
            ):
                continue  # a derivative ("shitstorm", "bullshits"), not a benign word
            benign.add(lw)
        for key in allowed_keys:
            if len(automaton) and any(True for _ in automaton.iter(nz.squeeze(key))):
                benign.add(key)
        self._benign_count = len(benign)
        self._benign = frozenset(benign)

        literal_automaton = ahocorasick.Automaton()
        for w in benign:
            literal_automaton.add_word(w, w)
        if len(literal_automaton):
            literal_automaton.make_automaton()
        self._benign_literal = literal_automaton
        self._benign_max = max((len(w) for w in benign), default=0)
        self._has_long = bool(long_v)
        self._rank = {
            key: (_TIER_RANK[t.tier], -wordfreq.zipf_frequency(t.term, "en"), t.term)
            for key, t in by_key.items()
        }
        self._ascii_table, self._ascii_delete = nz.ascii_match_table()
        self._irregular_match = nz.irregular_re("match")
        self._irregular_literal = nz.irregular_re("literal")
        self._ascii_literal_is_lower = all(
            self._literal_table.get(cp, chr(cp)) == chr(cp).lower() for cp in range(128)
        )
        # A phrase found in the squeezed view spans tokens: the first ends with its first word, the middle
        # ones are its middle words, the last begins with its last word. A token's "roles" say which.
        self._phrases = sorted(v.split(" ") for v in long_v if " " in v)
        self._phrase_first = tuple({p[0] for p in self._phrases})
        self._phrase_last = tuple({p[-1] for p in self._phrases})
        self._phrase_middle = frozenset(w for p in self._phrases for w in p[1:-1])
        self._two_word_phrases = sum(1 << n for n, p in enumerate(self._phrases) if len(p) == 2)
        self._phrase_words = max((len(p) for p in self._phrases), default=0)
        self._token_cache: dict[str, tuple[int, int, int, bool, bool]] = {}
        self._hits_cache: dict[str, list[tuple[int, int, str, str]]] = {}
        clean: set[str] = set()
        self._vocabulary_roles: dict[str, tuple[int, int, int, bool, bool]] = {}
        vocabulary = [nz.fold_match(w) for w in words[:CLEAN_VOCABULARY]]
        vocabulary += [t + nz.AMBIGUOUS for t in vocabulary[:EXCLAIMED_VOCABULARY]]
        weight: dict[str, float] = {}  # how often a token is met, roughly (wordfreq ranks by frequency)
        for rank, t in enumerate(vocabulary):
            if not t or " " in t or t in weight:
                continue
            weight[t] = 1 / (rank % CLEAN_VOCABULARY + 10)
            roles = self._token_roles(t)
            if roles != _NO_ROLES:
                self._vocabulary_roles[t] = roles
            else:
                clean.add(t)
        self._clean = frozenset(clean)
        # What the dirty words of the vocabulary hold ("cocktail", "space"), found once here.
        self._vocabulary_hits: dict[str, list[tuple[int, int, str, str]]] = {}
        for t, r in self._vocabulary_roles.items():
            if r[4]:
                self._vocabulary_hits[t] = self._hits_in_token(t)
        self._hits_cache.clear()
        # Benign words whose every hit lies inside them ("cocktail"): written plainly, they need no search.
        self._plain_benign = frozenset(
            t
            for t, hits in self._vocabulary_hits.items()
            if t in self._benign and t.isascii() and t.isalpha() and all(h[3] == "joined" for h in hits)
        )
        # A phrase needs a token for its first word and one for its last: allowing, for each phrase, only the
        # more frequent of those two kinds of tokens still rules it out. `_clean_or_half` holds the clean
        # tokens and those that play only allowed roles ("of" may end "jack off", "she" begin "she male").
        first_weight = [0.0] * len(self._phrases)
        last_weight = [0.0] * len(self._phrases)
        for t, r in self._vocabulary_roles.items():
            for n in range(len(self._phrases)):
                if r[0] >> n & 1:
                    first_weight[n] += weight[t]
                if r[2] >> n & 1:
                    last_weight[n] += weight[t]
        allowed_first = sum(1 << n for n in range(len(self._phrases)) if first_weight[n] >= last_weight[n])
        self._clean_or_half = self._clean.union(
            t
            for t, r in self._vocabulary_roles.items()
            if not (r[3] or r[4] or r[0] & ~allowed_first or r[2] & allowed_first)
        )
        self._ascii_deleted_re = re.compile("[" + re.escape(self._ascii_delete.decode("ascii")) + "]")

    @staticmethod
    def _inside_words(by_key: dict[str, _Term], common: frozenset[str]) -> set[str]:
        """Squeezed term forms found inside (not equal to) an ordinary word's squeezed form."""
        automaton = ahocorasick.Automaton()
        for key in by_key:
            q = nz.squeeze(key)
            automaton.add_word(q, q)
        automaton.make_automaton()
        out: set[str] = set()
        for w in common:
            qw = nz.squeeze(w)
            for _end, form in automaton.iter(qw):
                # An inflection of the term itself ("assholes") is not an ordinary word containing it.
                if form != qw and not any(qw == form + suffix for suffix in _INFLECTIONS):
                    out.add(form)
        return out

    # ----------------------------------------------------------------------------------------- matching
    def _fold(self, text: str) -> tuple[str, str]:
        """The comment with multi-character leet replaced (same length, same offsets), and its match view."""
        folded = nz.substitute_multi_leet(text) if ("(" in text or "|<" in text) else text
        if folded.isascii():
            folded_bytes = folded.encode("ascii").translate(self._ascii_table, self._ascii_delete)
            return folded, folded_bytes.decode("ascii")
        raw = folded.translate(self._hot_table)
        return folded, raw.replace(nz.DELETED, "") if nz.DELETED in raw else raw

    def find(self, text: str) -> list[WordMatch]:
        """Every listed term in `text`, sorted by start; spans index the original text."""
        folded, s = self._fold(text)
        # Most comments consist of words known to be clean, or that can play a part in a phrase only where
        # another of those words could not play the rest: one C-level set question, and they stop here.
        tokens = s.split()
        if self._clean_or_half.issuperset(tokens):
            dirty: list[str] = []
            starters: list[str] = []
            repeated = False
        else:
            dirty, repeated, starters = self._unknown_tokens(tokens)
        spaced = (_SPACED_REPEATED_RE if repeated else _SPACED_UNSQUEEZED_RE).search(" " + s) is not None
        # A short term disguised at the start of a longer word ("a$$assin") is a hit whatever the word is.
        disguise = "$" in text or "@" in text or "|" in text or "+" in text or "€" in text or "§" in text
        found = self._disguised_prefixes(text, s) if disguise else []
        if not (dirty or starters or spaced or found):
            return []
        # Candidates inside a token lie in the few dirty tokens: search those alone (their hits are cached).
        lowered: str | None = None
        for tok in dirty:
            hits = self._hits_in_token(tok)
            if hits:
                starts = _token_starts(s, tok)
                if tok in self._plain_benign and text.isascii():
                    lowered = text.lower() if lowered is None else lowered
                    if self._plain_count(lowered, tok) >= len(starts):
                        continue  # each time, the benign word is written out as itself: no hit stands
                for at in starts:
                    found.extend((at + a, at + b, key, kind) for a, b, key, kind in hits)
        # A candidate spanning tokens (a phrase, a run of single letters) is searched for where it may begin,
        # in a window of the text squeezed on its own, so a long comment costs no more than its windows.
        windows: set[tuple[int, int, int]] = set()
        for tok in starters:
            for at in _token_starts(s, tok):
                windows.add((at, _end_of_tokens(s, at, self._phrase_words), _PHRASE))
        if spaced:
            windows.update((m.start(), m.end(), _SPACED) for m in _SPACED_RUN_RE.finditer(s))
        for start, end, todo in windows:
            window = s[start:end]
            hits = self._locate_in(window, nz.SQUEEZE_RE.sub("", window), todo)
            found.extend((start + a, start + b, key, kind) for a, b, key, kind in hits)
        return self._unexclaimed(text, self._finish(text, folded, s, found)) if found else []

    def _unexclaimed(self, text: str, matches: list[WordMatch]) -> list[WordMatch]:
        """Drop hits that need a word's closing '!' as a letter: "Thanks Anna!" is an exclamation, not
        "anal". '!' inside a word ("sh!t") still reads as a letter, and a hit that stands without the
        closing marks ("fuck!!") stays."""
        kept: list[WordMatch] = []
        for match in matches:
            bare = match.text.rstrip("!")
            at_word_end = match.end == len(text) or not text[match.end].isalnum()
            if bare == match.text or not at_word_end:
                kept.append(match)
                continue
            # What the word says without its closing marks ("PUSS!" is "puss", not "pussi"), if anything.
            for sub in self.find(bare):
                moved = sub.model_copy(
                    update={"start": sub.start + match.start, "end": sub.end + match.start}
                )
                if not any((k.start, k.end, k.term) == (moved.start, moved.end, moved.term) for k in kept):
                    kept.append(moved)
        kept.sort(key=lambda m: m.start)
        return kept

    def find_without_prefilter(self, text: str) -> list[WordMatch]:
        """What `find` returns, by searching the whole squeezed text for everything (slow; for tests)."""
        folded, s = self._fold(text)
        q = nz.SQUEEZE_RE.sub("", s)
        found = self._locate_in(s, q, _SHORT | _MASKED | _SPACED | _LONG) + self._disguised_prefixes(text, s)
        return self._unexclaimed(text, self._finish(text, folded, s, found)) if found else []

    def _disguised_prefixes(self, text: str, s: str) -> list[tuple[int, int, str, str]]:
        """Short terms (whole tokens otherwise) at the start of a longer word whose spelling of them has a
        leet symbol after its first letter: "a$$assin", "a$$ets". The symbol is the intent; a word merely
        beginning with the letters ("assassin", "assets") or with a symbol ("@ssmith", a handle) is not."""
        found: list[tuple[int, int, str, str]] = []
        last_w0 = last_at = 0
        for m in _DISGUISE_RE.finditer(text):
            w0 = text.rfind(" ", 0, m.start()) + 1
            if w0 < last_w0 or (w0 == last_w0 and found and found[-1][0] == last_at):
                continue  # another symbol of a word already looked at
            # Where the word begins in the match view: folding is local, and no fold spans a space.
            at = last_at + len(self._fold(text[last_w0:w0])[1])
            last_w0, last_at = w0, at
            w1 = text.find(" ", m.end())
            word = text[w0 : len(text) if w1 == -1 else w1]
            _f, token = self._fold(word)
            if " " in token:
                continue
            if s[at : at + len(token)] != token:
                continue
            for n in range(len(token) - 1, 1, -1):  # the longest prefix that is a short term
                prefix = token[:n]
                keys = self._short_s.get(prefix) or self._short_q.get(nz.SQUEEZE_RE.sub("", prefix))
                if not keys:
                    continue
                # The prefix's spelling in the word: its original characters, through the word's own fold.
                written = next(i for i in range(1, len(word) + 1) if len(self._fold(word[:i])[1]) == n)
                if any(c in _DISGUISE_CHARS for c in word[1:written]):
                    found.extend((at, at + n, key, "joined") for key in keys)
                break
        return found

    @staticmethod
    def _plain_count(lowered: str, word: str) -> int:
        """How often `word` is written plainly in the lower-cased comment as a whole token of the match view:
        between white space, with nothing around it but characters the match view deletes ("cocktail," or
        '"cocktail"', not "x.cocktail", which folds to another token)."""
        n = 0
        end = len(lowered)
        i = lowered.find(word)
        while i != -1:
            j, k = i, i + len(word)
            while j > 0 and lowered[j - 1] in nz.JOINERS:
                j -= 1
            while k < end and lowered[k] in nz.JOINERS:
                k += 1
            if (j == 0 or lowered[j - 1].isspace()) and (k == end or lowered[k].isspace()):
                n += 1
            i = lowered.find(word, i + 1)
        return n

    def clear_token_cache(self) -> None:
        """Forget what was learnt about tokens outside the vocabulary (benchmarks measure a first sight)."""
        self._token_cache.clear()
        self._hits_cache.clear()

    def _unknown_tokens(self, tokens: list[str]) -> tuple[list[str], bool, list[str]]:
        """For the tokens outside `_clean_or_half`: those that may hold a candidate on their own ("dirty"),
        whether one is a single repeated letter, and the tokens that may begin a phrase whose other words
        are present too."""
        unique = set(tokens)
        dirty, repeated, first, middle, last = self._roles_of(unique.difference(self._clean_or_half))
        if not first | middle | last:
            return dirty, repeated, []
        # A phrase word out of place: the ones left out above count too.
        candidates = unique.difference(self._clean)
        dirty, repeated, first, middle, last = self._roles_of(candidates)
        # A phrase may be present only where tokens in all its roles are (their order is the slow path's job).
        possible = first & last & (middle | self._two_word_phrases)
        if not possible:
            return dirty, repeated, []
        roles = self._vocabulary_roles
        starters = [
            t
            for t in candidates
            if (roles.get(t) or self._token_cache.get(t) or self._token_roles(t))[0] & possible
        ]
        return dirty, repeated, starters

    def _roles_of(self, tokens: set[str]) -> tuple[list[str], bool, int, int, int]:
        """The dirty tokens among `tokens`, whether one is a single repeated letter, and the phrases they
        may begin, continue and end (bit masks)."""
        cache = self._token_cache
        vocabulary = self._vocabulary_roles
        first = middle = last = 0
        repeated = False
        dirty = []
        for tok in tokens:
            roles = vocabulary.get(tok)
            if roles is None:
                roles = cache.get(tok)
                if roles is None:
                    roles = self._token_roles(tok)
                    if len(tok) <= MAX_CACHED_TOKEN:
                        if len(cache) >= TOKEN_CACHE_SIZE:
                            cache.clear()
                        cache[tok] = roles
            first |= roles[0]
            middle |= roles[1]
            last |= roles[2]
            repeated = repeated or roles[3]
            if roles[4]:
                dirty.append(tok)
        return dirty, repeated, first, middle, last

    def _token_roles(self, tok: str) -> tuple[int, int, int, bool, bool]:
        """What a token of the match view may take part in (see _NO_ROLES): usually nothing.

        _candidate's questions are per token except two: a phrase spans tokens (hence the phrase roles), and
        a run of single letters spans tokens (asked of the whole comment, see _SPACED_UNSQUEEZED_RE)."""
        q = nz.SQUEEZE_RE.sub("", tok)
        repeated = len(q) == 1 and len(tok) > 1
        short_q, short_s, placeholder = self._short_q_set, self._short_s_set, nz.AMBIGUOUS
        dirty = (
            nz.MASK in tok
            or q in short_q
            or tok in short_s
            or (
                tok[-1] == placeholder
                and (q.rstrip(placeholder) in short_q or tok.rstrip(placeholder) in short_s)
            )
            or (self._has_long and next(self._term_automaton.iter(q), None) is not None)
        )
        if not (
            q in self._phrase_middle or q.endswith(self._phrase_first) or q.startswith(self._phrase_last)
        ):
            return (0, 0, 0, repeated, dirty) if repeated or dirty else _NO_ROLES
        first = middle = last = 0
        for number, words in enumerate(self._phrases):
            if q.endswith(words[0]):
                first |= 1 << number
            if q in words[1:-1]:
                middle |= 1 << number
            if q.startswith(words[-1]):
                last |= 1 << number
        return first, middle, last, repeated, dirty

    def _hits_in_token(self, tok: str) -> list[tuple[int, int, str, str]]:
        """The candidates inside one token of the match view, as (start, end, key, kind) within the token:
        what _locate finds there when the token stands alone."""
        hits = self._vocabulary_hits.get(tok)
        if hits is None:
            hits = self._hits_cache.get(tok)
        if hits is None:
            q = nz.SQUEEZE_RE.sub("", tok)
            todo = _SHORT | _MASKED | (_LONG if self._has_long else 0)
            hits = self._locate_in(tok, q, todo)
            if len(tok) <= MAX_CACHED_TOKEN:
                if len(self._hits_cache) >= TOKEN_CACHE_SIZE:
                    self._hits_cache.clear()
                self._hits_cache[tok] = hits
        return hits

    # The slow path below runs only for texts with a candidate.
    @staticmethod
    def _short_hits(view: str, forms: frozenset[str]) -> set[str]:
        """Tokens of `view` that are a short-term form, or one followed by placeholders ('assIIII')."""
        hits = set(forms.intersection(view.split()))
        if nz.AMBIGUOUS in view:
            for m in _ENDS_AMBIGUOUS_RE.finditer(view):
                tok = view[view.rfind(" ", 0, m.start()) + 1 : m.start()]
                if tok in forms:
                    hits.add(tok + m.group())
        return hits

    def _locate_in(self, s: str, q: str, todo: int) -> list[tuple[int, int, str, str]]:
        """The candidates of the match view `s` (squeezed: `q`) as (start, end, key, kind), spans in `s`."""
        maps: list[offsets.DeletionMap] = []  # built at the first hit: most searches of long texts find none

        def q_to_s(qs: int, qe: int) -> tuple[int, int]:
            if not maps:
                maps.append(offsets.DeletionMap(offsets.squeezed_positions(s)))
            squeezed = maps[0]
            start = squeezed.before(qs)
            while start > 0 and s[start - 1] == s[start] and s[start] != " ":
                start -= 1  # the kept character ends its run; the span starts with the run
            return start, squeezed.before(qe - 1) + 1

        found: list[tuple[int, int, str, str]] = []  # s-span, key, kind

        if todo & _SHORT:
            for squeezed_view, view, table, forms in (
                (True, q, self._short_q, self._short_q_set),
                (False, s, self._short_s, self._short_s_set),
            ):
                for tok in self._short_hits(view, forms) if table else ():
                    # Trailing placeholders are usually '!': the word without them first.
                    form = tok.rstrip(nz.AMBIGUOUS) or tok
                    if form not in table:
                        form = tok
                    for at in _token_starts(view, tok):
                        ss, se = q_to_s(at, at + len(form)) if squeezed_view else (at, at + len(form))
                        found.extend((ss, se, key, "token") for key in table[form])
        if todo & _MASKED:
            for m in _MASKED_TOKEN_RE.finditer(s):
                tok = m.group()
                core = tok.strip(nz.MASK)
                if nz.MASK in core and (keys := self._masked.get(core)):
                    off = m.start() + tok.index(core)
                    found.append((off, off + len(core), min(keys, key=self._rank.__getitem__), "masked"))

        if todo & (_LONG | _PHRASE):
            automaton = self._term_automaton if todo & _LONG else self._phrase_automaton
            for end, (_is_term, form, keys) in automaton.iter(q) if len(automaton) else ():
                qs, qe = end - len(form) + 1, end + 1
                # Closing placeholders ("cunt!" folds to "cuntI") end the word: it was exclaimed, not joined.
                whole = (qs == 0 or q[qs - 1] == " ") and (
                    qe == len(q) or q[qe] == " " or _ENDS_AMBIGUOUS_RE.match(q, qe) is not None
                )
                ss, se = q_to_s(qs, qe)
                for key in keys:
                    found.append((ss, se, key, "token" if whole else "joined"))

        for m in _SPACED_RE.finditer(q) if todo & _SPACED else ():
            letters = [i for i in range(m.start(), m.end()) if q[i] != " "]
            joined = "".join(q[i] for i in letters)
            jq = nz.squeeze(joined)
            j_origin = offsets.squeeze_origin(joined)
            candidates: list[tuple[int, int, tuple[str, ...]]] = []
            if keys := (self._short_q.get(jq) or self._short_s.get(joined)):
                candidates.append((0, len(jq), keys))
            if self._has_long:
                for end, (_t, form, keys2) in self._term_automaton.iter(jq):
                    candidates.append((end - len(form) + 1, end + 1, keys2))
            for js, je, keys in candidates:
                first = letters[j_origin[js]]
                last = letters[(j_origin[je] if je < len(j_origin) else len(joined)) - 1]
                ss, _ = q_to_s(first, first + 1)
                _, se = q_to_s(last, last + 1)
                for key in keys:
                    found.append((ss, se, key, "spaced"))
        return found

    def _severity(self, key: str) -> tuple[int, float, str]:
        return self._rank[key]

    def _ends_word(self, s: str, se: int) -> bool:
        """Whether a hit ending at s[se] ends a word: the token ends there, or the rest of the token is, or
        begins with, a dictionary word ("shit|storm", "fucking|idiot"; not "shits|torm")."""
        stop = s.find(" ", se)
        rest = s[se:] if stop == -1 else s[se:stop]
        if not rest or rest in self._common:
            return True
        return any(rest[:k] in self._common for k in range(MIN_REST_WORD, len(rest)))

    def _finish(
        self, text: str, folded: str, s: str, found: list[tuple[int, int, str, str]]
    ) -> list[WordMatch]:
        ascii_text = folded.isascii()  # ASCII folds one character to at most one: no per-character loop
        if ascii_text:
            dmap = offsets.DeletionMap([m.start() for m in self._ascii_deleted_re.finditer(folded)])

            def to_original(ss: int, se: int) -> tuple[int, int]:
                return dmap.before(ss), dmap.before(se - 1) + 1

        else:
            match_map = offsets.SparseOffsetMap(folded, self._match_table, self._irregular_match)
            to_original = match_map.span_to_original
        literal: str | None = None
        lmap: offsets.SparseOffsetMap | None = None

        # (start, end) in the original → (rank, key, kind, s-start, s-end) of the most severe term there
        best: dict[tuple[int, int], tuple[tuple[int, float, str], str, str, int, int]] = {}
        for ss, se, key, kind in found:
            start, end = to_original(ss, se)
            while end < len(text) and folded[end] == "." and text[end] != ".":
                end += 1  # the second character of a multi-character leet ("|<" → "k.")
            rank = self._rank[key]
            old = best.get((start, end))
            if old is not None and old[0] <= rank:
                continue
            if kind == "spaced" and sum(c.isalpha() for c in text[start:end]) < 2:
                continue  # "4 5 5" is a score, not a word
            if kind == "joined" or (kind == "token" and s[ss:se] != key):
                if literal is None:
                    if ascii_text and self._ascii_literal_is_lower:
                        literal = text.lower()
                    else:
                        literal = text.translate(self._literal_table)
                    if not ascii_text:
                        lmap = offsets.SparseOffsetMap(text, self._literal_table, self._irregular_literal)
                ls, le = (lmap.start(start), lmap.start(end)) if lmap is not None else (start, end)
                if kind == "joined" and self._inside_benign(literal, ls, le):
                    continue
                if kind == "token" and literal[ls:le] in self._common and literal[ls:le] not in self._terms:
                    continue  # an ordinary word that only squeezing made look like a term
            best[(start, end)] = (rank, key, kind, ss, se)

        spans = list(best)
        if len(spans) > 1:
            # Hits that begin together inside a word ("shit", "shits" in "shitstorm"): the longest that ends
            # a word explains it best ("shit|storm"); if none does, the longest.
            by_start: dict[int, list[tuple[int, int]]] = {}
            for span in spans:
                by_start.setdefault(span[0], []).append(span)
            dropped: set[tuple[int, int]] = set()
            for group in by_start.values():
                if len(group) < 2:
                    continue
                group.sort(key=lambda sp: sp[1], reverse=True)
                chosen = next((sp for sp in group if self._ends_word(s, best[sp][4])), group[0])
                dropped.update(sp for sp in group if sp[1] > chosen[1])
            spans = [sp for sp in spans if sp not in dropped]
            # A hit that starts inside another and only adds an inflection is that one's ending ("bullshit|s"
            # does not add "shits"); a hit adding more is another term ("shi|twat").
            by_end: dict[int, list[tuple[int, int]]] = {}
            for sp in spans:
                by_end.setdefault(sp[1], []).append(sp)
            longest = max(len(x) for x in _INFLECTIONS)
            dropped = {
                b
                for b in spans
                for a_end in range(b[1] - longest, b[1])
                for a in by_end.get(a_end, ())
                if a[0] < b[0] < a[1] and text[a[1] : b[1]].lower() in _INFLECTIONS
            }
            # Where hits overlap otherwise, keep the widest ("motherfucker", not also "fucker" and "fuck"): in
            # order of start, widest first, a hit ending no later than one before it lies inside that one.
            kept = []
            reach = -1
            for sp in sorted((sp for sp in spans if sp not in dropped), key=lambda sp: (sp[0], -sp[1])):
                if sp[1] > reach:
                    kept.append(sp)
                reach = max(reach, sp[1])
            spans = kept

        matches = []
        for start, end in spans:
            _rank, key, kind, ss, se = best[(start, end)]
            original = text[start:end]
            evidence = nz.evidence_for(original, self._steps, skip_spaces=" " in key)
            written = s[ss:se]
            ph = written.count("ph") if "ph" not in key else 0  # "ph" for f: one letter written as two
            extra = set()
            if len(written.replace(" ", "")) - ph > len(key.replace(" ", "")):
                extra.add("repeated")
            if ph or folded[start:end] != original:
                extra.add("leet")  # multi-character leet: "|<", "()", "(", "ph"
            if kind == "joined":
                extra.add("joined")
            if kind == "spaced":
                extra.add("separated")
            if kind == "masked":
                extra.add("masked")
            term = self._terms[key]
            matches.append(
                WordMatch(
                    term=term.term,
                    tier=term.tier,  # type: ignore[arg-type]
                    clause=term.clause,  # type: ignore[arg-type]
                    start=start,
                    end=end,
                    text=original,
                    evidence=[st for st in nz.STEPS if st in extra or st in evidence] or ["literal"],
                )
            )
        matches.sort(key=lambda m: (m.start, m.end, m.term))
        return matches

    def _inside_benign(self, literal: str, ls: int, le: int) -> bool:
        """Whether a benign word spelled out in the literal view covers literal[ls:le]."""
        if not len(self._benign_literal):
            return False
        lo = max(0, ls - self._benign_max)
        window = literal[lo : le + self._benign_max]
        for e, w in self._benign_literal.iter(window):
            if lo + e - len(w) + 1 <= ls and lo + e + 1 >= le:
                return True
        return False

    def __repr__(self) -> str:
        return f"WordList(version={self.version!r}, terms={len(self._terms)}, benign={self._benign_count})"
