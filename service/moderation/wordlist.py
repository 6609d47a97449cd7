"""The word-list engine: listed terms found in a comment, with spans in the original text and evidence.

How a comment is searched (normalize.py describes the folded views):

1. **Fast path** (every comment, C-level operations only): fold the text to the match view `s`, squeeze
   repeats to `q`, then ask four questions — does a token of `q` (or of `s`, for short terms whose
   squeezed form is an ordinary word, like "ass" → "as") hit the short-term sets; does the automaton find a
   long term in `q` that is not inside a benign dictionary word written literally; is there a mask; is
   there a run of single spaced letters. A clean comment stops here.
2. **Slow path** (only texts with a candidate): locate every candidate, map it to the original text,
   cancel hits that lie inside a benign word written literally, attach evidence, keep the widest hit where
   hits overlap.

Short terms (up to three letters once squeezed: "ass", "cum", "tit") and review-tier terms only match whole
tokens; longer reject-tier terms and phrases match anywhere through one Aho-Corasick automaton, which is
what finds "youfuckingidiot". A term whose squeezed form is an ordinary word, or sits inside one
("reefer" → "refer", "asses" → "ases" in "cases"), matches whole tokens only, with its listed repeats.
Benign words ("Scunthorpe", "cocktail", "therapist", "shiitake") are the dictionary words of `wordfreq`
that contain a long term; a benign word cancels a hit only where the literal view spells it out.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import pathlib
import re
import threading
import time
from dataclasses import dataclass

import ahocorasick
import wordfreq

from service.moderation import normalize as nz
from service.moderation.types import WordMatch
from service.moderation.wordlist_rules import Entry, WordListError, load_entries, rules_files

__all__ = ["WordList", "WordListError", "WordListWatcher"]

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

_TOKEN_RE = re.compile(r"[^ ]+")
_SPACED_RE = re.compile(r"(?<![^ ])[a-zI](?: [a-zI](?![^ ])){2,}")
_SPACED_QUICK_RE = re.compile(r" [a-zI] [a-zI] [a-zI](?![^ ])")
_TIER_RANK = {"reject": 0, "review": 1}
_INFLECTIONS = ("s", "es", "ed", "d", "ing", "er", "ers", "y", "ies")
_SHORT, _MASKED, _SPACED, _LONG = 1, 2, 4, 8


@dataclass(frozen=True)
class _Term:
    key: str
    term: str
    tier: str
    clause: str


def _match_key(term: str) -> str:
    return " ".join(nz.fold_match(term).replace(nz.MASK, " ").split())


def _placeholder_variants(form: str) -> set[str]:
    """Spellings of `form` with any i or l written as the ambiguous placeholder."""
    positions = [i for i, c in enumerate(form) if c in "il"]
    if len(positions) > MAX_AMBIGUOUS_POSITIONS:
        return {form, "".join(nz.AMBIGUOUS if c in "il" else c for c in form)}
    out = set()
    for choice in itertools.product((False, True), repeat=len(positions)):
        chars = list(form)
        for pos, use in zip(positions, choice):
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


class WordList:
    """An immutable, loaded word list. Build with `WordList.load(rules_dir)`."""

    version: str

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._build(entries)

    @classmethod
    def load(cls, rules_dir: pathlib.Path) -> WordList:
        return cls(load_entries(pathlib.Path(rules_dir)))

    # ----------------------------------------------------------------------------------------- building
    def _build(self, entries: dict[str, Entry]) -> None:
        tables = nz.tables()
        self._match_table = tables.match
        self._hot_table = tables.hot
        self._literal_table = tables.literal
        self._steps = tables.steps
        words, common = _dictionary()
        self._common = common

        digest = hashlib.sha256()
        for term in sorted(entries):
            e = entries[term]
            digest.update(f"{term}\t{e.tier}\t{e.clause}\t{e.stem}\n".encode())
        self.version = digest.hexdigest()[:12]

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
                for v in _placeholder_variants(qkey):
                    long_v.setdefault(v, set()).add(key)
            else:
                for v in _placeholder_variants(qkey):
                    short_q.setdefault(v, set()).add(key)
                    short_q.setdefault(v + nz.AMBIGUOUS, set()).add(key)
            if " " not in key and len(key) >= 3:
                for n_masked in (1, 2):
                    if len(key) - n_masked < max(2, n_masked):
                        continue
                    for pos in itertools.combinations(range(1, len(key)), n_masked):
                        pattern = "".join(nz.MASK if i in pos else c for i, c in enumerate(key))
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

        # Benign words: dictionary words containing a long term, unless they are terms themselves or
        # begin or end with a stem (derivatives such as "shitstorm"). Site-allowed terms protect too.
        benign: set[str] = set()
        for w in words:
            lw = nz.fold_literal(w)
            qw = nz.squeeze(nz.fold_match(lw))
            if qw in term_forms or qw in long_v or not len(automaton):
                continue
            hits = [keys for _end, (_is_term, _v, keys) in automaton.iter(qw)]
            if not hits:
                continue
            if any(k in stems and (lw.startswith(k) or lw.endswith(k)) for keys in hits for k in keys):
                continue
            benign.add(lw)
        for key in allowed_keys:
            if len(automaton) and any(True for _ in automaton.iter(nz.squeeze(key))):
                benign.add(key)
        self._benign_count = len(benign)

        literal_automaton = ahocorasick.Automaton()
        fast = ahocorasick.Automaton()
        benign_by_q: dict[str, list[str]] = {}
        for w in benign:
            literal_automaton.add_word(w, w)
            qw = nz.squeeze(nz.fold_match(w))
            if qw and qw not in long_v:
                benign_by_q.setdefault(qw, []).append(w)
        for v, payload in long_v.items():
            fast.add_word(v, (True, v, tuple(sorted(payload))))
        for qw, lits in benign_by_q.items():
            fast.add_word(qw, (False, qw, tuple(lits)))
        if len(literal_automaton):
            literal_automaton.make_automaton()
        if len(fast):
            fast.make_automaton()
        self._benign_literal = literal_automaton
        self._fast = fast
        self._has_long = bool(long_v)

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
    def find(self, text: str) -> list[WordMatch]:
        """Every listed term in `text`, sorted by start; spans index the original text."""
        raw = text.translate(self._hot_table)
        s = raw.replace(nz.DELETED, "") if nz.DELETED in raw else raw
        q = nz.SQUEEZE_RE.sub("", s)
        todo = self._candidate(text, s, q)
        if todo:
            return self._locate(text, raw, s, q, todo)
        return []

    def _candidate(self, text: str, s: str, q: str) -> int:
        """Which searches the slow path must run (a bit set of _SHORT, _MASKED, _SPACED, _LONG)."""
        found = 0
        if not self._short_q_set.isdisjoint(q.split()) or not self._short_s_set.isdisjoint(s.split()):
            found |= _SHORT
        if nz.MASK in s:
            found |= _MASKED
        if _SPACED_QUICK_RE.search(" " + q):
            found |= _SPACED
        if self._has_long:
            for _ in self._term_automaton.iter(q):
                hits = list(self._fast.iter(q))
                if self._unexplained(text, hits):
                    found |= _LONG
                break
        return found

    def _unexplained(self, text: str, hits: list[tuple[int, tuple[bool, str, tuple[str, ...]]]]) -> bool:
        """True unless every term hit lies inside a benign hit that the literal view spells out as often."""
        benign_spans = []
        needed: dict[tuple[str, ...], int] = {}
        for end, (is_term, form, payload) in hits:
            if not is_term:
                benign_spans.append((end - len(form) + 1, end + 1, payload))
        if not benign_spans:
            return True
        used: set[tuple[int, int, tuple[str, ...]]] = set()
        for end, (is_term, form, _payload) in hits:
            if not is_term:
                continue
            start = end - len(form) + 1
            cover = next((b for b in benign_spans if b[0] <= start and b[1] >= end + 1), None)
            if cover is None:
                return True
            used.add(cover)
        for _s, _e, lits in used:
            needed[lits] = needed.get(lits, 0) + 1
        literal = text.translate(self._literal_table)
        return any(sum(literal.count(w) for w in lits) < n for lits, n in needed.items())

    # The slow path below runs only for texts with a candidate; clarity over speed.
    def _locate(self, text: str, raw: str, s: str, q: str, todo: int) -> list[WordMatch]:
        squeezed = nz.DeletionMap(nz.squeezed_positions(s))

        def q_to_s(qs: int, qe: int) -> tuple[int, int]:
            start = squeezed.before(qs)
            while start > 0 and s[start - 1] == s[start] and s[start] != " ":
                start -= 1  # the kept character ends its run; the span starts with the run
            return start, squeezed.before(qe - 1) + 1

        found: list[tuple[int, int, str, str]] = []  # s-span, key, kind

        if todo & _SHORT:
            for m in _TOKEN_RE.finditer(q):
                tok = m.group()
                # Trailing placeholders are usually '!': try the word without them first.
                for form in dict.fromkeys((tok.rstrip(nz.AMBIGUOUS) or tok, tok)):
                    if keys := self._short_q.get(form):
                        ss, se = q_to_s(m.start(), m.start() + len(form))
                        found.extend((ss, se, key, "token") for key in keys)
                        break
            if self._short_s:
                for m in _TOKEN_RE.finditer(s):
                    tok = m.group()
                    for form in dict.fromkeys((tok.rstrip(nz.AMBIGUOUS) or tok, tok)):
                        if keys := self._short_s.get(form):
                            found.extend((m.start(), m.start() + len(form), key, "token") for key in keys)
                            break
        if todo & _MASKED:
            for m in _TOKEN_RE.finditer(s):
                tok = m.group()
                if nz.MASK in tok:
                    core = tok.strip(nz.MASK)
                    if nz.MASK in core and (keys := self._masked.get(core)):
                        off = m.start() + tok.index(core)
                        best = min(keys, key=self._severity)
                        found.append((off, off + len(core), best, "masked"))

        if todo & _LONG:
            for end, (_is_term, form, keys) in self._term_automaton.iter(q):
                qs, qe = end - len(form) + 1, end + 1
                whole = (qs == 0 or q[qs - 1] == " ") and (qe == len(q) or q[qe] == " ")
                ss, se = q_to_s(qs, qe)
                for key in keys:
                    found.append((ss, se, key, "token" if whole else "joined"))

        for m in _SPACED_RE.finditer(q) if todo & _SPACED else ():
            letters = [i for i in range(m.start(), m.end()) if q[i] != " "]
            joined = "".join(q[i] for i in letters)
            jq = nz.squeeze(joined)
            j_origin = nz.squeeze_origin(joined)
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

        if not found:
            return []
        return self._finish(text, raw, s, found)

    def _severity(self, key: str) -> tuple[int, float, str]:
        t = self._terms[key]
        return (_TIER_RANK[t.tier], -wordfreq.zipf_frequency(t.term, "en"), t.term)

    def _finish(self, text: str, raw: str, s: str, found: list[tuple[int, int, str, str]]) -> list[WordMatch]:
        ascii_text = text.isascii()  # ASCII folds one character to one: offsets need no per-character loop
        if ascii_text:
            dmap = nz.DeletionMap(nz.deleted_positions(raw))

            def to_original(ss: int, se: int) -> tuple[int, int]:
                return dmap.before(ss), dmap.before(se - 1) + 1

        else:
            to_original = nz.OffsetMap(text, self._match_table).span_to_original
        literal: str | None = None
        lmap: nz.OffsetMap | None = None
        benign_spans: list[tuple[int, int]] = []

        best: dict[tuple[int, int], tuple[tuple[int, float, str], WordMatch]] = {}
        for ss, se, key, kind in found:
            start, end = to_original(ss, se)
            original = text[start:end]
            if kind == "spaced" and sum(c.isalpha() for c in original) < 2:
                continue  # "4 5 5" is a score, not a word
            if kind == "joined" or (kind == "token" and s[ss:se] != key):
                if literal is None:
                    literal = text.translate(self._literal_table)
                    if not ascii_text:
                        lmap = nz.OffsetMap(text, self._literal_table)
                    if len(self._benign_literal):
                        benign_spans = [
                            (e - len(w) + 1, e + 1) for e, w in self._benign_literal.iter(literal)
                        ]
                ls, le = (lmap.starts[start], lmap.starts[end]) if lmap is not None else (start, end)
                if kind == "joined" and any(b0 <= ls and b1 >= le for b0, b1 in benign_spans):
                    continue
                if kind == "token" and literal[ls:le] in self._common and literal[ls:le] not in self._terms:
                    continue  # an ordinary word that only squeezing made look like a term
            term = self._terms[key]
            evidence = nz.evidence_for(original, self._steps, skip_spaces=" " in key)
            letters = len(s[ss:se].replace(" ", ""))
            extra = set()
            if letters > len(key.replace(" ", "")):
                extra.add("repeated")
            if kind == "joined":
                extra.add("joined")
            if kind == "spaced":
                extra.add("separated")
            if kind == "masked":
                extra.add("masked")
            evidence = [st for st in nz.STEPS if st in extra or st in evidence] or ["literal"]
            match = WordMatch(
                term=term.term,
                tier=term.tier,  # type: ignore[arg-type]
                clause=term.clause,  # type: ignore[arg-type]
                start=start,
                end=end,
                text=original,
                evidence=evidence,
            )
            rank = self._severity(key)
            old = best.get((start, end))
            if old is None or rank < old[0]:
                best[(start, end)] = (rank, match)

        matches = [m for _r, m in best.values()]
        # Where hits overlap, keep the widest ("motherfucker", not also "fucker" and "fuck").
        kept = [
            m
            for m in matches
            if not any(
                o is not m and o.start <= m.start and o.end >= m.end and (o.end - o.start) > (m.end - m.start)
                for o in matches
            )
        ]
        kept.sort(key=lambda m: (m.start, m.end, m.term))
        return kept

    def __repr__(self) -> str:
        return f"WordList(version={self.version!r}, terms={len(self._terms)}, benign={self._benign_count})"


class WordListWatcher:
    """Serves the current WordList and reloads it when the rules files change (no restart)."""

    def __init__(self, rules_dir: pathlib.Path, min_interval_s: float = 1.0) -> None:
        self._rules_dir = pathlib.Path(rules_dir)
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._signature = self._stat()
        self._current = WordList.load(self._rules_dir)
        self._checked_at = time.monotonic()

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        folder = self._rules_dir / "wordlist"
        paths = set(rules_files(self._rules_dir))
        if folder.is_dir():
            paths.update(folder.glob("*.txt"))
        for p in sorted(paths):
            try:
                st = p.stat()
                out.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(p), -1, -1))
        return tuple(out)

    def current(self) -> WordList:
        now = time.monotonic()
        if now - self._checked_at < self._min_interval_s:
            return self._current
        with self._lock:
            if now - self._checked_at < self._min_interval_s:
                return self._current
            self._checked_at = now
            signature = self._stat()
            if signature != self._signature:
                self._signature = signature
                try:
                    self._current = WordList.load(self._rules_dir)
                    log.info("word list reloaded: %r", self._current)
                except WordListError as exc:
                    log.error("word list not reloaded, keeping version %s: %s", self._current.version, exc)
            return self._current
