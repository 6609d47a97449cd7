"""Offsets between a comment and its folded views: every span reported indexes the ORIGINAL text.

Folding (normalize.py) maps each original character to zero or more characters, and squeezing deletes
repeats. These maps take a span found in a folded or squeezed view back to the original. They are built
only for texts that produced a candidate, and from the few characters that do not fold one-to-one, so a
long comment costs no per-character Python loop.
"""

from __future__ import annotations

import bisect
import itertools
import re

from service.wordlist.normalize import AMBIGUOUS, DELETED, SQUEEZE_RE, SQUEEZE_RUN_RE


class OffsetMap:
    """Offsets of each original character in a folded view (built lazily, for texts with candidates)."""

    __slots__ = ("origin", "starts")

    def __init__(self, text: str, table: dict[int, str]) -> None:
        starts = [0] * (len(text) + 1)
        origin: list[int] = []
        pos = 0
        get = table.get
        for i, ch in enumerate(text):
            starts[i] = pos
            n = len(get(ord(ch), ch))
            origin.extend([i] * n)
            pos += n
        starts[len(text)] = pos
        self.starts = starts
        """starts[i]: offset in the folded view where original character i's piece begins."""
        self.origin = origin
        """origin[j]: the original character that produced folded character j."""

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Folded [start, end) (end > start) → the smallest original span producing those characters."""
        return self.origin[start], self.origin[end - 1] + 1


class SparseOffsetMap:
    """The answers of OffsetMap, computed from the few characters whose piece is not one character long
    (found by a C-level regex scan), so a long comment costs no per-character Python loop."""

    __slots__ = ("folded", "lengths", "orig", "shifts")

    def __init__(self, text: str, table: dict[int, str], irregular: re.Pattern[str]) -> None:
        orig: list[int] = []
        folded: list[int] = []
        lengths: list[int] = []
        shifts = [0]
        shift = 0
        get = table.get
        for m in irregular.finditer(text):
            ch = m.group()
            n = len(get(ord(ch), ch))
            if n == 1:
                continue
            i = m.start()
            orig.append(i)
            folded.append(i + shift)
            lengths.append(n)
            shift += n - 1
            shifts.append(shift)
        self.orig = orig
        self.folded = folded
        self.lengths = lengths
        self.shifts = shifts

    def start(self, i: int) -> int:
        """OffsetMap.starts[i]: where original character i's piece begins in the folded view."""
        return i + self.shifts[bisect.bisect_left(self.orig, i)]

    def origin(self, j: int) -> int:
        """OffsetMap.origin[j]: the original character that produced folded character j."""
        k = bisect.bisect_right(self.folded, j) - 1
        if k < 0:
            return j
        f, n = self.folded[k], self.lengths[k]
        if j < f + n:
            return self.orig[k]
        return self.orig[k] + 1 + (j - f - n)

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        return self.origin(start), self.origin(end - 1) + 1


class DeletionMap:
    """Maps indices of a string that had some characters deleted back to the string before deletion.

    Built from the (few) deleted positions, found with a C-level regex scan, so no per-character loop."""

    __slots__ = ("kept_before",)

    def __init__(self, deleted: list[int]) -> None:
        # For each deleted position (sorted), how many kept characters precede it: a kept character i of the
        # shorter string comes after exactly the deleted ones whose count here is <= i.
        self.kept_before = [d - n for n, d in enumerate(deleted)]

    @classmethod
    def of_ascii(cls, text: str, deleted: bytes) -> DeletionMap:
        """The map of the ASCII `text` less the characters in `deleted`: the same as
        `DeletionMap([i for i, c in enumerate(text) if ord(c) in deleted])`, in C-level steps alone (a regex
        scan costs several times as much). With every deleted character written as one of them, the kept
        characters before the k-th deleted one are the lengths of the k + 1 pieces that splitting at it
        leaves before it."""
        dmap = cls.__new__(cls)
        if not deleted:
            dmap.kept_before = []
            return dmap
        table, mark = _marks(deleted)
        pieces = text.encode("ascii").translate(table).split(mark)
        dmap.kept_before = list(itertools.accumulate(map(len, pieces[:-1])))
        return dmap

    def before(self, i: int) -> int:
        return i + bisect.bisect_right(self.kept_before, i)

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """[start, end) of the shorter string (end > start) → the span it came from, deletions inside kept."""
        return self.before(start), self.before(end - 1) + 1


_MARKS: dict[bytes, tuple[bytes, bytes]] = {}


def _marks(deleted: bytes) -> tuple[bytes, bytes]:
    """A translation table writing each byte of `deleted` as its first one, and that byte (kept per set)."""
    marks = _MARKS.get(deleted)
    if marks is None:
        mark = deleted[:1]
        marks = _MARKS[deleted] = (bytes.maketrans(deleted, mark * len(deleted)), mark)
    return marks


class RunDeletionMap:
    """DeletionMap's answers where the deleted characters come in runs, as squeezing deletes them (all of a
    run of one letter but its last): one entry per run, so that a run of 10,000 letters costs one entry and
    one regex match, not 10,000 of each."""

    __slots__ = ("deleted_until", "kept_at")

    def __init__(self, runs: list[tuple[int, int]]) -> None:
        """`runs`: [start, end) of each run in the longer string, in order."""
        kept_at: list[int] = []
        deleted_until: list[int] = []
        deleted = 0
        for start, end in runs:
            # The run's kept character, in the shorter string: the characters before it keep their place
            # less the deletions before the run; it and those after it move by this run's deletions too.
            kept_at.append(start - deleted)
            deleted += end - start - 1
            deleted_until.append(deleted)
        self.kept_at = kept_at
        self.deleted_until = deleted_until

    def before(self, i: int) -> int:
        k = bisect.bisect_right(self.kept_at, i)
        return i + self.deleted_until[k - 1] if k else i

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        return self.before(start), self.before(end - 1) + 1


def squeeze_map(s: str) -> RunDeletionMap:
    """Maps indices of squeeze(s) back to s."""
    return RunDeletionMap([m.span() for m in SQUEEZE_RUN_RE.finditer(s)])


_DELETED_RE = re.compile(DELETED)


def deleted_positions(raw: str) -> list[int]:
    return [m.start() for m in _DELETED_RE.finditer(raw)]


def squeezed_positions(s: str) -> list[int]:
    return [m.start() for m in SQUEEZE_RE.finditer(s)]


def squeeze_origin(s: str) -> list[int]:
    """For each character of squeeze(s), the index in s of the FIRST character of its run."""
    out: list[int] = []
    run_start = 0
    n = len(s)
    for i, c in enumerate(s):
        if i > 0 and s[i - 1] != c:
            run_start = i
        if i + 1 < n and s[i + 1] == c and (c == " " or c == AMBIGUOUS or "a" <= c <= "z"):
            continue
        out.append(run_start)
    return out
