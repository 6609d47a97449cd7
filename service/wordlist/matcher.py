"""The word-list engine: listed terms found in a comment, with spans in the original text and evidence.

How a comment is searched (normalize.py describes the folded views, index.py what is built at load):

1. **Prefilter** (every comment, C-level operations only): fold the text to the match view `s` (ASCII through
   `bytes.translate`), split it into tokens and ask one set question (in C where it was built: scan.py): are
   all of them clean words of the vocabulary? The vocabulary is wordfreq's most frequent words, each checked
   once at load time by the per-token search below: a word is clean if it holds no candidate on its own and
   plays no part in a phrase (or only a part whose other words are then ruled out, see
   `Vocabulary.clean_or_half`). Then one regex asks for a run of single spaced letters ("f u c k"). Most
   comments stop here without squeezing anything.
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

Overlapping hits: where hits begin together inside a word, the longest one that ends a word wins (the word
ends there, or the rest of it is, or begins with, a dictionary word of at least MIN_REST_WORD letters):
"shitstorm" reports "shit" (the rest is "storm"), not "shits" (the rest would be "torm"), and
"youfuckingidiot" reports "fucking". A hit that starts inside another and adds only an inflection is dropped
("bullshits" reports "bullshit", not also "shits"). Otherwise the widest hit wins ("motherfucker").

Cost: for a comment of n characters, `find` does O(n) work, and never more than a constant times n, whatever
the comment holds (issue 10: "@a" * 500 took 26 s, cubic in the length). The constant depends on the word
list (its longest spellings), not on the comment; `Work` counts the work (tests/wordlist/test_work.py checks
at most 64 per character, and growth from n to 10 n). The only factor beyond that is a binary search per
candidate when its span is mapped (offsets.py) and the sorting of the matches: O(log n) each, in C.

Why it holds, step by step:

- Prefilter: a fixed number of C-level passes (translate, split, one set question, one regular expression
  whose backtracking stays within a token and the runs of spaces beside it).
- Candidates: the automaton reports, at each position, only spellings ending there, which are suffixes of
  one another, so their number is bounded by the longest spelling; a token or window gives a bounded
  number of candidates per character, and m candidates cover O(n) characters in all (each spans a bounded
  number of squeezed letters, and each gap between letters lies under a bounded number of candidates).
- Tokens: each distinct unknown token is looked at once per call (`seen`), in time linear in its length;
  tokens up to MAX_CACHED_TOKEN long are cached across calls.
- Where tokens stand (`tokens_at`): `str.find` resumes after the token holding an occurrence, so each token
  is read once per token looked for; more than FEW_TOKENS tokens are collected in one pass instead, as are
  the plain writings of more than FEW_TOKENS benign words (`_plain_counts`).
- Disguised prefixes: each word holding a leet symbol is read a fixed number of times (its other symbols
  are skipped), its prefixes through at most one squeeze unit more than the longest short spelling, and
  the prefix's written length comes from an offset map, not from folding every prefix.
- Windows: a phrase window spans `phrases.longest` tokens, so a character lies in at most that many;
  runs of single letters are disjoint matches of one regular expression.
- Finishing: per candidate, a window of its span and the longest benign word on each side (benign words),
  and at most the longest dictionary word after it (`_ends_word`); overlaps are grouped by start and end
  in dicts.
- Closing '!': each distinct word without its marks is searched once (in text inside a match, so the
  total length is that of the matches), and a set says whether a match is already kept. A search inside
  such a word can recurse only where a shorter match inside it ends with '!' too, at most once per letter
  of the longest spelling.
"""

from __future__ import annotations

import gc
import pathlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

from service.moderation.types import Clause, Tier, WordMatch
from service.wordlist import compounds, offsets, scan
from service.wordlist import normalize as nz
from service.wordlist.index import (
    FEW_TOKENS,
    INFLECTIONS,
    LONG,
    MASKED,
    PHRASE,
    SHORT,
    SPACED,
    Hit,
    Index,
    Term,
    TokenRoles,
    Work,
    build_index,
    token_starts,
    tokens_at,
)
from service.wordlist.rules import Entry, entries_digest, load_entries

TOKEN_CACHE_SIZE = 65_536
"""Verdicts kept for tokens outside the vocabulary (names, typos); the cache is emptied when full."""
MAX_CACHED_TOKEN = 64
"""Longer tokens are not cached, so a flood of long distinct tokens cannot grow the caches' memory."""
MIN_REST_WORD = 4
"""After a term inside a word, a dictionary word of at least this many letters marks a word boundary."""
MAX_NAME = 40
"""Words longer than this are never taken for names (names are short; the check's cost stays bounded)."""
BUILT_KEPT = 2
"""Built word lists kept per process: the current one and the one before a reload."""

# A run of at least three single letters, asked of the unsqueezed view; where a token is one repeated letter
# ("ff", "mm"), which squeezes to a single letter, the slower form with back-references.
_SPACED_UNSQUEEZED_RE = re.compile(r" [a-zI] +[a-zI] +[a-zI](?![^ ])")
_SPACED_REPEATED_RE = re.compile(r" ([a-zI])\1* +([a-zI])\2* +([a-zI])\3*(?![^ ])")
# A whole run of single letters (each perhaps repeated) in the unsqueezed view: a window for the SPACED search.
_SPACED_RUN_RE = re.compile(r"(?<![^ ])([a-zI])\1*(?: +([a-zI])\2*(?![^ ])){2,}")
# Leet symbols that, inside a word, show intent (digits are left out: "mp3s", "b2b"); find() tests for each.
_DISGUISE_CHARS = "$@|+€§"
# A run of them between letters. The symbol comes first and the letter before it is looked behind from there,
# so the regex scans for the symbols, as it cannot for a pattern that starts with a look-behind (7x faster).
_DISGUISE_RE = re.compile(r"[$@|+€§](?<=[^\W\d_][$@|+€§])[$@|+€§]*(?=[^\W\d_])")
# A run of one letter (or placeholder): what squeezing cuts to one character.
_RUN_OF = {c: re.compile(f"{c}+") for c in "abcdefghijklmnopqrstuvwxyz" + nz.AMBIGUOUS}
_LONGEST_INFLECTION = max(len(x) for x in INFLECTIONS)

Span = tuple[int, int]
"""[start, end) in the original text."""


_KIND_STEP = {"joined": "joined", "spaced": "separated", "masked": "masked"}
"""The evidence step a hit's kind adds (a "token" hit adds none)."""


class _KeyForm(NamedTuple):
    """What `_match` needs of a match key, found once per key when the word list is loaded."""

    term: str
    tier: Tier
    clause: Clause
    letters: str
    """The key without its spaces."""
    squeezed: str
    """`letters` squeezed."""
    repeats: int
    """The letters squeezing deletes from `letters` (the term's own repeats: "ss" in "asshole")."""
    ph: bool
    """The key has "ph" in it (then a "ph" written is no leet for f)."""
    spaced: bool
    """The key has a space (a phrase): spaces in the text are no evidence."""


def _key_form(term: Term) -> _KeyForm:
    letters = term.key.replace(" ", "")
    squeezed = nz.squeeze(letters)
    return _KeyForm(
        term.term,
        term.tier,
        term.clause,
        letters,
        squeezed,
        len(letters) - len(squeezed),
        "ph" in term.key,
        " " in term.key,
    )


_BUILT: OrderedDict[str, WordList] = OrderedDict()
_BUILT_LOCK = threading.Lock()


class WordList:
    """A loaded word list: its index (immutable) and what it learns about tokens outside the vocabulary.
    Build with `WordList.load(rules_dir)`.

    Several threads may call `find` at once: the index is never written after it is built, each call keeps
    its own state (its `Work`, its lists), and the two token caches are plain dicts changed only by single
    dict operations (get, set, clear), which are atomic. Two threads may both find a token's answer, and one
    may empty a cache the other has just filled; neither changes an answer, only what it costs."""

    __slots__ = (
        "_hits_cache",
        "_key_forms",
        "_longest_common",
        "_longest_short_q",
        "_longest_short_s",
        "_scan",
        "_token_cache",
        "_token_cache_size",
        "index",
        "version",
    )

    def __init__(self, index: Index, token_cache_size: int = TOKEN_CACHE_SIZE, c_scan: bool = True) -> None:
        self.index = index
        self.version: str = index.version
        # The prefilter's set question in C where it was built (scan.py); `c_scan=False` asks Python's sets.
        vocabulary = index.vocabulary
        scanner = scan.scanner_for(vocabulary, index.forms, enabled=c_scan)
        self._scan = scanner.scan if scanner is not None else None
        # Tokens outside the vocabulary (names, typos), answered once: bounded by `token_cache_size`, and
        # only tokens up to MAX_CACHED_TOKEN long. Shared by every thread calling find(): see `_roles`.
        self._token_cache_size = token_cache_size
        self._token_cache: dict[str, TokenRoles] = {}
        self._hits_cache: dict[str, tuple[Hit, ...]] = {}
        # How far the searches that look for a word at a position need to read (see their docstrings).
        # (The listed terms' spellings only: a disguised prefix is a short term, see index.py's listed_longest.)
        self._longest_short_s, self._longest_short_q = index.forms.listed_longest
        self._longest_common = max(map(len, index.common), default=0)
        self._key_forms = {key: _key_form(term) for key, term in index.terms.items()}

    @classmethod
    def from_entries(cls, entries: Mapping[str, Entry]) -> WordList:
        return cls(build_index(entries))

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
        built = cls.from_entries(entries)
        with _BUILT_LOCK:
            _BUILT[key] = built
            while len(_BUILT) > BUILT_KEPT:
                _BUILT.popitem(last=False)
        # The index lives as long as the process (or until the next reload): move it, with everything else
        # alive now, out of the cyclic collector's generations, so that its full collections stop walking
        # hundreds of thousands of objects that can never be garbage (pauses of several milliseconds, in
        # the middle of requests). Garbage is collected first, so that only live objects are frozen; frozen
        # ones are still freed by reference counting when the next reload drops them.
        gc.collect()
        gc.freeze()
        return built

    def clear_token_cache(self) -> None:
        """Forget what was learnt about tokens outside the vocabulary (benchmarks measure a first sight)."""
        self._token_cache.clear()
        self._hits_cache.clear()

    # ----------------------------------------------------------------------------------------- finding
    def find(self, text: str, work: Work | None = None) -> list[WordMatch]:
        """Every listed term in `text`, sorted by start; spans index the original text. Linear in the text's
        length (the module's docstring); `work`, if given, counts what the search did (for tests)."""
        ix = self.index
        folded, s = ix.tables.match_view(text)
        # Most comments consist of words known to be clean, or that can play a part in a phrase only where
        # another of those words could not play the rest: one C-level set question, and they stop here.
        # (In C where it was built: the same question, one probe per token; None for a view holding other
        # whitespace than ' ', which goes the Python way.)
        scanned = self._scan(s) if self._scan is not None else None
        dirty: list[str] = []
        starters: list[str] = []
        repeated = False
        if scanned is not None:
            unknown, half, runs = scanned
            if unknown is not None:
                dirty, repeated, starters = self._unknown_tokens(unknown, half, None, work)
            # (The scan's answers to the two regular expressions below.)
            spaced = (runs & 2 if repeated else runs & 1) != 0
        else:
            tokens = s.split()
            if not ix.vocabulary.clean_or_half.issuperset(tokens):
                unique = set(tokens)
                unknown = unique.difference(ix.vocabulary.clean_or_half)
                dirty, repeated, starters = self._unknown_tokens(unknown, None, unique, work)
            spaced = (_SPACED_REPEATED_RE if repeated else _SPACED_UNSQUEEZED_RE).search(" " + s) is not None
        # A short term disguised at the start of a longer word ("a$$assin") is a hit whatever the word is.
        disguise = "$" in text or "@" in text or "|" in text or "+" in text or "€" in text or "§" in text
        if not (dirty or starters or spaced or disguise):
            if work is not None:
                work.chars += len(text)
            return []
        work = Work() if work is None else work
        work.chars += len(text)  # the prefilter: a fixed number of C-level passes
        found = self._disguised_prefixes(text, s, work) if disguise else []
        if not (dirty or starters or spaced or found):
            return []
        # Candidates inside a token lie in the few dirty tokens: search those alone (their hits are cached).
        token_hits = {tok: hits for tok in dirty if (hits := self._token_hits(tok, work))}
        # Where those tokens and the phrases' first words stand: one search each for a few (most comments
        # have one), one pass over the tokens for more (tokens_at).
        many = len(token_hits) + len(starters) > FEW_TOKENS
        starts_of = tokens_at(s, [*token_hits, *starters], work) if many else None
        plain_benign = ix.vocabulary.plain_benign
        plain: dict[str, int] = {}
        if not plain_benign.isdisjoint(token_hits) and text.isascii():
            plain = _plain_counts(text.lower(), [tok for tok in token_hits if tok in plain_benign], work)
        for tok, hits in token_hits.items():
            starts = starts_of[tok] if starts_of is not None else token_starts(s, tok, work)
            if plain and plain.get(tok, 0) >= len(starts):
                continue  # each time, the benign word is written out as itself: no hit stands
            for at in starts:
                found.extend(Hit(at + a, at + b, key, kind) for a, b, key, kind in hits)
            work.chars += len(starts) * len(hits)
        # A candidate spanning tokens (a phrase, a run of single letters) is searched for where it may begin,
        # in a window of the text squeezed on its own, so a long comment costs no more than its windows.
        windows: set[tuple[int, int, int]] = set()
        for tok in starters:
            for at in starts_of[tok] if starts_of is not None else token_starts(s, tok, work):
                windows.add((at, _end_of_tokens(s, at, ix.forms.phrases.longest), PHRASE))
        if spaced:
            windows.update((m.start(), m.end(), SPACED) for m in _SPACED_RUN_RE.finditer(s))
            work.chars += len(s)
        for start, end, todo in windows:
            window = s[start:end]
            work.chars += 2 * len(window)  # the window read by _end_of_tokens or its regex, and squeezed
            hits_in_window = ix.forms.locate(window, nz.squeeze(window), todo, work)
            found.extend(Hit(start + a, start + b, key, kind) for a, b, key, kind in hits_in_window)
        if not found:
            return []
        return self._finish(text, folded, s, found, work)

    def find_without_prefilter(self, text: str) -> list[WordMatch]:
        """What `find` returns, by searching the whole squeezed text for everything (slow; for tests)."""
        work = Work()
        folded, s = self.index.tables.match_view(text)
        q = nz.squeeze(s)
        found = self.index.forms.locate(s, q, SHORT | MASKED | SPACED | LONG, work)
        found += self._disguised_prefixes(text, s, work)
        if not found:
            return []
        return self._finish(text, folded, s, found, work)

    # ------------------------------------------------------------------------------------------ tokens
    def _unknown_tokens(
        self, unknown: set[str], half: set[str] | None, unique: set[str] | None, work: Work | None
    ) -> tuple[list[str], bool, list[str]]:
        """For the tokens outside `clean_or_half` (`unknown`): those that may hold a candidate on their own
        ("dirty"), whether one is a single repeated letter, and the tokens that may begin a phrase whose
        other words are present too. The comment's other tokens that are not clean: `half` where the C scan
        found them (None: there are none), else found here among all of its tokens (`unique`)."""
        # The roles found in this call: a token too long for the cache is still looked at only once.
        seen: dict[str, TokenRoles] = {}
        dirty, repeated, first, middle, last = self._roles_of(unknown, seen, work)
        if not first | middle | last:
            return dirty, repeated, []
        # A phrase word out of place: the ones left out above count too.
        if unique is not None:
            candidates = unique.difference(self.index.vocabulary.clean)
        else:
            candidates = unknown if half is None else unknown | half
        dirty, repeated, first, middle, last = self._roles_of(candidates, seen, work)
        # A phrase may be present only where tokens in all its roles are (their order is the slow path's job).
        possible = first & last & (middle | self.index.forms.phrases.two_word)
        if not possible:
            return dirty, repeated, []
        starters = [t for t in candidates if seen[t].first & possible]
        return dirty, repeated, starters

    def _roles_of(
        self, tokens: set[str], seen: dict[str, TokenRoles], work: Work | None
    ) -> tuple[list[str], bool, int, int, int]:
        """The dirty tokens among `tokens`, whether one is a single repeated letter, and the phrases they
        may begin, continue and end (bit masks). Each token's roles are noted in `seen`: the vocabulary's
        answer, the cache's, or one found now."""
        vocabulary = self.index.vocabulary.roles
        cache = self._token_cache
        token_roles = self.index.forms.token_roles
        first = middle = last = 0
        repeated = False
        dirty = []
        for tok in tokens:
            roles = seen.get(tok)
            if roles is None:
                # (A TokenRoles is a non-empty tuple: true whatever it holds.)
                roles = vocabulary.get(tok) or cache.get(tok)
                if roles is None:
                    # Seen for the first time: found, and cached if at most MAX_CACHED_TOKEN long (each step
                    # one dict operation, see the class's docstring on threads).
                    roles = token_roles(tok)
                    if work is not None:
                        work.chars += len(tok)
                    if len(tok) <= MAX_CACHED_TOKEN:
                        if len(cache) >= self._token_cache_size:
                            cache.clear()
                        cache[tok] = roles
                seen[tok] = roles
            first |= roles.first
            middle |= roles.middle
            last |= roles.last
            repeated = repeated or roles.repeated
            if roles.dirty:
                dirty.append(tok)
        return dirty, repeated, first, middle, last

    def _token_hits(self, tok: str, work: Work) -> tuple[Hit, ...]:
        """The candidates inside one token of the match view, spans within the token (cached)."""
        hits = self.index.vocabulary.hits.get(tok)
        if hits is None:
            hits = self._hits_cache.get(tok)
        if hits is None:
            hits = self.index.forms.token_hits(tok, work)
            if len(tok) <= MAX_CACHED_TOKEN:
                if len(self._hits_cache) >= self._token_cache_size:
                    self._hits_cache.clear()
                self._hits_cache[tok] = hits
        return hits

    def _disguised_prefixes(self, text: str, s: str, work: Work) -> list[Hit]:
        """Short terms (whole tokens otherwise) at the start of a longer word whose spelling of them has a
        leet symbol after its first letter: "a$$assin", "a$$ets". The symbol is the intent; a word merely
        beginning with the letters ("assassin", "assets") or with a symbol ("@ssmith", a handle) is not.

        Each word holding a symbol is read a fixed number of times, whatever the number of symbols in it
        (the other symbols of a word are not looked at again) or its length (see `_longest_short_prefix`)."""
        tables = self.index.tables
        match_view = tables.match_view
        forms = self.index.forms
        found: list[Hit] = []
        last_w0 = last_at = pos = 0
        while (m := _DISGUISE_RE.search(text, pos)) is not None:
            w0 = text.rfind(" ", pos, m.start()) + 1
            w1 = text.find(" ", m.end())
            if w1 == -1:
                w1 = len(text)
            pos = w1
            # Where the word begins in the match view: folding is local, and no fold spans a space.
            at = last_at + len(match_view(text[last_w0:w0])[1])
            word = text[w0:w1]
            work.chars += (m.start() - last_w0) + 3 * len(word)  # read back, folded, compared with s
            last_w0, last_at = w0, at
            folded_word, token = match_view(word)
            if " " in token or s[at : at + len(token)] != token:
                continue
            n = self._longest_short_prefix(token, work)
            if not n:
                continue
            prefix = token[:n]
            keys = forms.short_s.get(prefix) or forms.short_q[nz.squeeze(prefix)]
            # The prefix's spelling in the word: up to the character that folds to its last letter (which may
            # fold to more: "a$ﬅ" spells "ass" with the first letter of "ﬅ").
            word_map: offsets.DeletionMap | offsets.SparseOffsetMap
            if folded_word.isascii():
                word_map = offsets.DeletionMap(
                    [d.start() for d in tables.ascii_deleted_re.finditer(folded_word)]
                )
            else:
                word_map = offsets.SparseOffsetMap(folded_word, tables.match, tables.irregular_match)
            written = word_map.span_to_original(n - 1, n)[1]
            work.chars += 2 * len(word)
            if any(c in _DISGUISE_CHARS for c in word[1:written]):
                # Placeholders ending the prefix are a closing '!' where the spelling without them stands for
                # a term too ("a$$|" is "a$$"), as for a whole token (index.py): the span ends before them.
                bare = prefix.rstrip(nz.AMBIGUOUS)
                if len(bare) >= 2 and bare != prefix:
                    bare_keys = forms.short_s.get(bare) or forms.short_q.get(nz.squeeze(bare))
                    if bare_keys:
                        n, keys = len(bare), bare_keys
                found.extend(Hit(at, at + n, key, "joined") for key in keys)
        work.chars += len(text) - last_w0
        return found

    def _longest_short_prefix(self, token: str, work: Work) -> int:
        """The length of the longest proper prefix of `token` (at least two characters) that is a short
        term's spelling: as written (`short_s`) or once squeezed (`short_q`); 0 if none.

        Only prefixes of at most the longest `short_s` spelling can be one of those, and a prefix's squeezed
        form is the squeezed token cut after its first units (a unit: a run of one letter, or one other
        character), so only the first units up to the longest `short_q` spelling are read, a run in one
        C-level regex match: the token's length bounds the work, whatever the prefixes."""
        forms = self.index.forms
        limit = len(token) - 1
        best = 0
        for n in range(min(limit, self._longest_short_s), 1, -1):
            if token[:n] in forms.short_s:
                best = n
                break
        squeezed = ""
        at = 0
        while at < limit and len(squeezed) < self._longest_short_q:
            # The next unit: a run of one letter, or any other character (squeezing keeps those as they are).
            run = _RUN_OF.get(token[at])
            unit = run.match(token, at) if run is not None else None
            end = unit.end() if unit is not None else at + 1
            squeezed += token[at]
            work.chars += end - at
            # Every prefix ending inside this unit squeezes to `squeezed`: the longest of them.
            n = min(end, limit)
            if n > best and n >= 2 and squeezed in forms.short_q:
                best = n
            at = end
        work.chars += self._longest_short_s
        return best

    # ---------------------------------------------------------------------------------------- finishing
    def _finish(self, text: str, folded: str, s: str, found: list[Hit], work: Work) -> list[WordMatch]:
        """The matches the hits make, sorted by start; hits that need a word's closing '!' as a letter are
        replaced by what the word says without it (`_unexclaimed`)."""
        best = self._best_per_span(text, folded, s, found, work)
        spans = self._resolve_overlaps(text, s, best, work) if len(best) > 1 else list(best)
        spans.sort()  # by start, then end: one hit per span, so no two compare equal
        return self._unexclaimed(text, folded, s, best, spans, work)

    def _best_per_span(self, text: str, folded: str, s: str, found: list[Hit], work: Work) -> dict[Span, Hit]:
        """Each hit mapped to the original text, and per span the most severe hit that stands (its own span
        is in the match view): not a score
        ("4 5 5"), not a masked word that shows no letter ("7*7"), not inside a benign word written out, not
        an ordinary word that only squeezing made look like a term."""
        ix = self.index
        tables = ix.tables
        ascii_text = folded.isascii()  # ASCII folds one character to at most one: no per-character loop
        span_map: offsets.DeletionMap | offsets.SparseOffsetMap
        # Non-ASCII text whose characters have ASCII stand-ins (accents, currency signs, quotes) deletes the
        # same characters as its stand-ins do: their ASCII map serves it (a regex scan of it costs 3x more).
        swapped = folded if ascii_text else tables.swap_stand_ins(folded)
        if swapped is not None:
            span_map = offsets.DeletionMap.of_ascii(swapped, tables.ascii_deleted)
        else:
            span_map = offsets.SparseOffsetMap(folded, tables.match, tables.irregular_match)
        examined = 2 * len(text) + len(found)  # the maps, the literal view; each hit once (added to `work`)
        benign_margin = 2 * ix.benign.longest
        lower_is_literal = ascii_text and tables.ascii_literal_is_lower
        literal: str | None = None
        lmap: offsets.SparseOffsetMap | None = None
        rank_of = ix.forms.rank
        n = len(text)

        best: dict[Span, Hit] = {}
        last_word = [0, 0]  # the bounds of the last word a joined hit was found in (see _in_name)
        for hit in found:
            ss, se, key, kind = hit
            start, end = span_map.span_to_original(ss, se)
            while end < n and folded[end] == "." and text[end] != ".":
                end += 1  # the second character of a multi-character leet ("|<" → "k.")
            rank = rank_of[key]
            old = best.get((start, end))
            # The most severe term; for the same term, the first hit, but a hit on the whole word before one
            # "joined" to others (a disguised prefix can span the whole word: "a$$!", "aaaa$ß"), whichever
            # search found it first.
            if old is not None and (
                (old_rank := rank_of[old.key]) < rank
                or (old_rank == rank and (kind == "joined" or old.kind != "joined"))
            ):
                continue
            examined += end - start
            original = text[start:end]
            if original.isdigit():
                continue  # "455" is a number, not "ass": leet needs a letter beside it ("a55")
            if kind == "token":
                if s[ss:se] != key:
                    # The hit's own literal view (folding is per character, so it is the literal view's piece
                    # between the hit's bounds; a whole-text view is built only for a joined hit's context).
                    word = original.lower() if lower_is_literal else original.translate(tables.literal)
                    examined += len(word) + benign_margin
                    if word in ix.common and word not in ix.terms and word not in ix.derived:
                        continue  # an ordinary word that only squeezing made look like a term
            elif kind == "joined":
                if literal is None:
                    literal = text.lower() if lower_is_literal else text.translate(tables.literal)
                    if not ascii_text:
                        lmap = offsets.SparseOffsetMap(text, tables.literal, tables.irregular_literal)
                ls, le = (lmap.start(start), lmap.start(end)) if lmap is not None else (start, end)
                examined += le - ls + benign_margin
                if ix.benign.covers(literal, ls, le):
                    continue
                if _in_name(text, start, end, key, ix, last_word, work):
                    continue
            elif kind == "spaced":
                if sum(c.isalpha() for c in original) < 2:
                    continue  # "4 5 5" is a score, not a word
            elif kind == "masked" and not any(c.isalpha() for c in original):
                continue  # "7*7" folds to "t*t", but a masked word shows some of its letters as letters
            best[(start, end)] = hit  # (its span here is in the match view)
        work.chars += examined
        return best

    def _resolve_overlaps(self, text: str, s: str, best: dict[Span, Hit], work: Work) -> list[Span]:
        """The spans that explain the comment best where hits overlap (the module's docstring)."""
        spans = list(best)
        # Hits that begin together inside a word ("shit", "shits" in "shitstorm"): the longest that ends a word
        # explains it best ("shit|storm"); if none does, the longest.
        by_start: dict[int, list[Span]] = {}
        for span in spans:
            by_start.setdefault(span[0], []).append(span)
        dropped: set[Span] = set()
        for group in by_start.values():
            if len(group) < 2:
                continue
            group.sort(key=lambda sp: sp[1], reverse=True)
            chosen = next((sp for sp in group if self._ends_word(s, best[sp].end, work)), group[0])
            dropped.update(sp for sp in group if sp[1] > chosen[1])
        spans = [sp for sp in spans if sp not in dropped]
        # A hit that starts inside another and only adds an inflection is that one's ending ("bullshit|s" does
        # not add "shits"); a hit adding more is another term ("shi|twat").
        by_end: dict[int, list[Span]] = {}
        for sp in spans:
            by_end.setdefault(sp[1], []).append(sp)
        dropped = {
            b
            for b in spans
            for a_end in range(b[1] - _LONGEST_INFLECTION, b[1])
            for a in by_end.get(a_end, ())
            if a[0] < b[0] < a[1] and text[a[1] : b[1]].lower() in INFLECTIONS
        }
        # Where hits overlap otherwise, keep the widest ("motherfucker", not also "fucker" and "fuck"): in
        # order of start, widest first, a hit ending no later than one before it lies inside that one.
        kept = []
        reach = -1
        for sp in sorted((sp for sp in spans if sp not in dropped), key=lambda sp: (sp[0], -sp[1])):
            if sp[1] > reach:
                kept.append(sp)
            reach = max(reach, sp[1])
        return kept

    def _ends_word(self, s: str, se: int, work: Work) -> bool:
        """Whether a hit ending at s[se] ends a word: the token ends there, or the rest of the token is, or
        begins with, a dictionary word ("shit|storm", "fucking|idiot"; not "shits|torm"). Only as much of
        the rest is read as the longest dictionary word, and one character more: the answer is the same,
        and many hits in one long token ("fuckersfuckers…") no longer read it to its end each."""
        common = self.index.common
        stop = s.find(" ", se, se + self._longest_common + 1)
        rest = s[se : se + self._longest_common + 1] if stop == -1 else s[se:stop]
        work.chars += len(rest)
        if not rest or rest in common:
            return True
        return any(rest[:k] in common for k in range(MIN_REST_WORD, len(rest)))

    def _match(self, text: str, folded: str, s: str, span: Span, hit: Hit) -> WordMatch:
        """The reported match of a hit on `span`, with the evidence of what revealed it."""
        start, end = span
        original = text[start:end]
        form = self._key_forms[hit.key]
        evidence = nz.evidence_for(original, self.index.tables.steps, skip_spaces=form.spaced)
        written = s[hit.start : hit.end]
        ph = 0 if form.ph else written.count("ph")  # "ph" for f: one letter written as two
        letters = written.replace(" ", "")
        if letters == form.letters and not ph:
            # Written as the key (most hits): no repeats beyond its own, no other spelling.
            repeated = respelled = False
        else:
            squeezed = nz.squeeze(letters)
            # Repeats beyond the term's own ("fuuuck"; not "assholes", whose ss is the term's).
            repeated = len(letters) - len(squeezed) > form.repeats
            respelled = hit.kind != "masked" and _respelled(squeezed, form.squeezed, ph > 0)
        leet = ph or folded[start:end] != original  # multi-character leet: "|<", "()", "(", "ph"
        kind = hit.kind
        if not (evidence or repeated or respelled or leet) and kind == "token":
            steps = ["literal"]
        else:
            extra = set(evidence)
            if repeated:
                extra.add("repeated")
            if respelled:
                extra.add("respelled")
            if leet:
                extra.add("leet")
            if kind != "token":
                extra.add(_KIND_STEP[kind])
            steps = [st for st in nz.STEPS if st in extra] or ["literal"]
        return _new_match(form.term, form.tier, form.clause, start, end, original, steps)

    def _unexclaimed(
        self, text: str, folded: str, s: str, best: dict[Span, Hit], spans: list[Span], work: Work
    ) -> list[WordMatch]:
        """The matches of the hits chosen on `spans`, less those that need a word's closing '!' as a letter:
        "Thanks Anna!" is an exclamation, not "anal". '!' inside a word ("sh!t") still reads as a letter, and a hit
        that stands without the closing marks ("fuck!!") stays.

        Each distinct text without its marks is searched once, and those texts lie inside the matches, so
        this adds work linear in the matches' length (a set, not a scan of the matches kept, answers
        whether a match is already in). A dropped hit never becomes a match object."""
        kept: list[WordMatch] = []
        seen: set[tuple[int, int, str]] | None = None  # the matches kept, from the first exclamation on
        said: dict[str, list[WordMatch]] = {}
        examined = 0
        n = len(text)
        for span in spans:
            start, end = span
            examined += end - start
            # (A span is never empty: its last character ends it.)
            if text[end - 1] != "!" or (end < n and text[end].isalnum()):
                match = self._match(text, folded, s, span, best[span])
                kept.append(match)
                if seen is not None:
                    seen.add((start, end, match.term))
                continue
            bare = text[start:end].rstrip("!")
            if seen is None:
                seen = {(m.start, m.end, m.term) for m in kept}
            # What the word says without its closing marks ("PUSS!" is "puss", not "pussi"), if anything.
            subs = said.get(bare)
            if subs is None:
                subs = said[bare] = self.find(bare, work)
            for sub in subs:
                at, to = sub.start + start, sub.end + start
                if (at, to, sub.term) not in seen:
                    seen.add((at, to, sub.term))
                    # A match of its own (its own evidence list): one search's result may move to several places.
                    moved = _new_match(sub.term, sub.tier, sub.clause, at, to, sub.text, list(sub.evidence))
                    kept.append(moved)
        work.chars += examined
        if seen is not None:  # matches moved from inside a word may come after later ones
            kept.sort(key=lambda m: m.start)
        return kept

    def __repr__(self) -> str:
        return (
            f"WordList(version={self.version!r}, terms={len(self.index.terms)}, "
            f"benign={len(self.index.benign.words)})"
        )


def _in_name(text: str, start: int, end: int, key: str, ix: Index, word: list[int], work: Work) -> bool:
    """Whether the hit on text[start:end] lies inside a name: a word written in letters alone and capitalised
    ("Shitterton", "Penistone"), of at most MAX_NAME letters, that is neither the term with an inflection nor
    a compound with a stem as a part ("Shitstorm", "Dickheads": compounds.py, with parts of at least
    MIN_NAME_PART letters, so "Shitter|ton" is no compound). A word whose letters are disguised is no name.

    `word` holds the bounds of the word the previous hit was in: hits come grouped by word, so each word is
    walked once ("fuckersfuckers…" holds a thousand hits), and the split runs only for short words."""
    ws, we = word
    if not ws <= start < we:
        ws = start
        while ws > 0 and text[ws - 1].isalpha():
            ws -= 1
        we = max(end, start)
        while we < len(text) and text[we].isalpha():
            we += 1
        word[0], word[1] = ws, we
        work.chars += we - ws
    if we - ws > MAX_NAME or not text[ws].isupper():
        return False
    name = text[ws:we]
    if not (name[1:].islower() and name.isalpha()):
        return False
    low = name.lower()
    hs, he = start - ws, end - ws
    if compounds.is_inflected(low, hs, he):
        return False  # the term itself, inflected ("Assholes"), at the start of a sentence
    if key not in ix.stems:
        return True
    work.chars += len(low) * MAX_NAME
    return not compounds.is_true_part(low, hs, he, ix.parts, compounds.SUFFIXES, compounds.MIN_NAME_PART)


_MATCH_FIELDS = frozenset(WordMatch.model_fields)


def _new_match(
    term: str, tier: Tier, clause: Clause, start: int, end: int, text: str, evidence: list[str]
) -> WordMatch:
    """A WordMatch of values known to be valid (a listed term's own, offsets and text of the comment), built
    as `WordMatch.model_construct` builds one, without its per-field loop: a fifth of what validating costs.
    tests/wordlist/test_matcher.py holds it equal to a validated one."""
    match = _new_model(WordMatch)
    _set_attr(
        match,
        "__dict__",
        {
            "term": term,
            "tier": tier,
            "clause": clause,
            "start": start,
            "end": end,
            "text": text,
            "evidence": evidence,
        },
    )
    _set_attr(match, "__pydantic_fields_set__", set(_MATCH_FIELDS))
    _set_attr(match, "__pydantic_extra__", None)
    _set_attr(match, "__pydantic_private__", None)
    return match


_new_model = object.__new__
_set_attr = object.__setattr__


def _respelled(written: str, key: str, ph: bool) -> bool:
    """Whether a hit's squeezed letters spell its squeezed key other than by leet, placeholders or 'ph' for
    f: an inflection, a phonetic spelling or a skeleton (index.py's generated spellings)."""
    if ph:
        written = written.replace("ph", "f")
    if len(written) != len(key):
        return True
    return any(w != k and not (w == nz.AMBIGUOUS and k in "il") for w, k in zip(written, key, strict=True))


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


def _plain_counts(lowered: str, words: list[str], work: Work) -> dict[str, int]:
    """How often each of `words` (letters only) is written plainly in the lower-cased comment: `_plain_count`
    for a few, or one pass over the comment's whitespace-separated pieces for more (see FEW_TOKENS)."""
    if len(words) <= FEW_TOKENS:
        work.chars += len(words) * len(lowered)
        return {w: _plain_count(lowered, w) for w in words}
    # A plain writing is a piece that is the word with only joiners around it: the same count in one pass.
    wanted = dict.fromkeys(words, 0)
    for piece in lowered.split():
        core = piece.strip(nz.JOINERS)
        if core in wanted:
            wanted[core] += 1
    work.chars += 2 * len(lowered)
    return wanted


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
