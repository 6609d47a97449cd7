"""Normalization for the word list: fold a comment so disguised spellings meet the listed terms.

Two views of a text are built with `str.translate` (C speed), each original character mapping to zero or
more characters:

- the **literal** view (`fold_literal`): NFKC, case folding, invisible characters removed, accents
  stripped, look-alike letters of other scripts mapped by shape to Latin. Punctuation and digits stay.
  This is what a reader sees; benign dictionary words are only recognised in this view, so a disguise
  ("$cunthorpe") never borrows a benign word's protection.
- the **match** view (`fold_match`): the literal view plus leetspeak (@→a, $→s, 0→o, …; the two-character
  "|<", "()" and "(" between letters are replaced first, keeping the length: see MULTI_LEET), masks
  (`*` and `#` become `*`), separators inside a word deleted ("f.u_c-k" → "fuck") and every other
  non-letter turned into a space. Symbols that can stand for two letters (1 ! | → i or l) become the
  placeholder `I`, which the term index expands on its side, so the text side never explodes into variants.

`squeeze` collapses repeated letters and spaces ("fuuuck" → "fuck"). Offsets back to the original text are
computed only for texts that produced a candidate (offsets.py), because most comments are clean.

Evidence step names (attached to every match, see `STEPS`):
  nfkc        a compatibility form (full-width, mathematical alphabets, ligatures) was folded
  casefold    a non-ASCII case form was folded (plain A-Z upper case is not a disguise and is not reported)
  invisible   a zero-width, bidi-control, soft-hyphen, variation-selector or tag character was removed
  confusable  a look-alike letter from another script was mapped by shape (Unicode confusables data)
  accent      a diacritic was stripped
  leet        a digit or symbol stood for a letter
  masked      `*` or `#` stood for a letter
  separated   letters were split by spaces or punctuation
  repeated    letters were repeated
  respelled   the term was inflected, spelt as said or written without its vowels (index.py's generated
              spellings: "assholes", "phuk", "fck")
  joined      the term was run together with other words
  literal     none of the above: a plain hit

Confusables come from the `confusable-homoglyphs` package, which ships Unicode's confusables.txt (UTS #39)
as JSON; only targets that are a single ASCII letter or digit are used.
"""

from __future__ import annotations

import functools
import json
import operator
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

STEPS: tuple[str, ...] = (
    "nfkc",
    "casefold",
    "invisible",
    "confusable",
    "accent",
    "leet",
    "masked",
    "separated",
    "repeated",
    "respelled",
    "joined",
    "literal",
)

AMBIGUOUS = "I"
"""Placeholder for a symbol that may read as i or l. Upper case never survives folding otherwise."""

MASK = "*"

DELETED = "\x00"
"""Stands for a deleted character in the hot translate table; NUL itself folds to a space."""

# Leetspeak: symbol → letter. The ambiguous ones map to the placeholder; the term index expands i and l.
LEET: dict[str, str] = {
    "@": "a",
    "4": "a",
    "8": "b",
    "3": "e",
    "€": "e",
    "9": "g",
    "0": "o",
    "$": "s",
    "5": "s",
    "§": "s",
    "7": "t",
    "+": "t",
    "1": AMBIGUOUS,
    "!": AMBIGUOUS,
    "|": AMBIGUOUS,
}
MASK_CHARS = "*#"

# Leetspeak written with two characters, or with a character that is punctuation elsewhere. Each is replaced
# in the comment before folding by a string OF THE SAME LENGTH (the letter, then a joiner that the match view
# deletes), so offsets in the replaced text are offsets in the original. "(" reads as c and "()" as o only
# between letters ("di(k", "c()ck"): at the start of a word "(" is a parenthesis far more often ("(rap
# music)", "(lit review)"). "ph" for f is handled on the term side (see index.py), as "ph" is ordinary
# English spelling and must not change the text.
#
# A '+' with a space on either side, between two groups of two or three letters ("bi + ch"), is the leet t
# of a word split around it: the spaces become joiners (".t.", same length). Longer groups are words of their
# own ("cats + dogs"), single letters are algebra ("a + b") or spaced letters ("f u c k +A"), and a '+'
# between letters with no space is the leet t already ("bi+ch").
MULTI_LEET: dict[str, str] = {"|<": "k.", "()": "o.", "(": "c", " + ": ".t.", " +": ".t", "+ ": "t."}
SPLIT_GROUP = 3
"""The most letters on each side of a spaced '+' for it to join them into one word (the fewest: two)."""
_LETTER = r"[^\W\d_]"
_MULTI_LEET_RE = re.compile(r"\|<|(?<=[^\W\d_])\((?:\))?(?=[^\W\d_])")
# The spaced '+', found from the '+' itself (a literal first: the regex engine skips to each '+' at C speed),
# the letters before it looked behind from there: with a space between ("bi + ch", "bi +ch") or without
# ("bi+ ch"), and not a fourth letter before them.
_SPACED_PLUS_RE = re.compile(
    rf"\+(?:(?<={_LETTER}{{2}} \+)(?<!{_LETTER}{{{SPLIT_GROUP + 1}}} \+) ?"
    rf"|(?<={_LETTER}{{2}}\+)(?<!{_LETTER}{{{SPLIT_GROUP + 1}}}\+) )"
    rf"(?={_LETTER}{{2,{SPLIT_GROUP}}}(?!{_LETTER}))"  # two or three letters after
)


def _multi_leet_piece(m: re.Match[str]) -> str:
    return MULTI_LEET[m.group()]


def _join_spaced_plus(text: str) -> str:
    """`text` with each spaced '+' between short letter groups replaced by its MULTI_LEET piece (the space
    before it, which the match does not hold, included)."""
    pieces = []
    at = 0
    for m in _SPACED_PLUS_RE.finditer(text):
        start = m.start() - 1 if text[m.start() - 1] == " " else m.start()
        pieces.append(text[at:start])
        pieces.append(MULTI_LEET[text[start : m.end()]])
        at = m.end()
    if not pieces:
        return text
    pieces.append(text[at:])
    return "".join(pieces)


def substitute_multi_leet(text: str) -> str:
    """The comment with multi-character leet replaced, same length (see MULTI_LEET)."""
    if "(" in text or "|<" in text:
        text = _MULTI_LEET_RE.sub(_multi_leet_piece, text)
    if "+ " in text or " +" in text:
        text = _join_spaced_plus(text)
    return text


# Inside a word these only separate letters ("f.u.c.k", "s_h_i_t", "mother-fucker", "don't"): deleting them
# rejoins the word. Everything else that is not a letter splits words.
JOINERS = ".,_-'`~:;^\"\u2019\u2018\u00b7\u2022"

# Code points whose only effect is invisible: zero-width, bidi controls, soft hyphen, joiners, BOM,
# variation selectors, tags, combining grapheme joiner, Mongolian vowel separator, Hangul fillers.
_INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0x1BCA0, 0x1BCA3),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
)

# Planes 0 and 1 hold every script and symbol block that carries look-alikes; planes 2-3 are CJK
# ideographs (left as they are) and plane 14 holds tags and variation selectors (listed above).
_SCAN_LIMIT = 0x20000

SQUEEZE_RE = re.compile(r"([a-zI ])(?=\1)")
"""Deletes a letter (or space) that the next character repeats: runs collapse to one."""
SQUEEZE_RUN_RE = re.compile(
    r"(?=([a-zI ])\1)(?:" + "|".join(f"{re.escape(c)}+" for c in "abcdefghijklmnopqrstuvwxyzI ") + ")"
)
"""A run that squeezing collapses, found as one match however long it is (all but its last character go). The
look-ahead finds where one begins; the run is then taken by a repeat of its one character, which the regex
engine reads in a tight loop (a repeated back-reference, `([a-zI ])\1+`, cost 14x more on a run of 10,000
letters, and 1.4x more on ordinary text)."""


LONG_RUN = 64
"""Runs at least this long are cut to one character before SQUEEZE_RE runs (see `squeeze`). The probe for
one is a C-level substring search that skips ahead by up to this many characters: a longer probe is
cheaper, and shorter runs cost SQUEEZE_RE at most this many deletions each."""
_SQUEEZED = "abcdefghijklmnopqrstuvwxyz" + AMBIGUOUS + " "
_LONG_RUNS = tuple((c * LONG_RUN, re.compile(f"{re.escape(c)}{{{LONG_RUN},}}"), c) for c in _SQUEEZED)


def _repeats_in_python(s: str) -> bool:
    return any(map(operator.eq, s, s[1:]))


has_repeat: Callable[[str], bool]
try:
    from service.wordlist._scan import repeats as has_repeat
except ImportError:  # built without a C compiler (scan.py)
    has_repeat = _repeats_in_python
"""Whether a character of `s` stands right after the same one (then `squeeze` may change it; else it leaves
it as it is): one C loop where the extension was built, else a comparison of neighbours, a Python call per
character (a 10,000-character token without repeats cost 0.4 ms that way)."""


def squeeze(s: str) -> str:
    """`s` with every run of one letter (or placeholder, or space) cut to one: "fuuuck" → "fuck".

    SQUEEZE_RE pays for each character it deletes, several times what it pays for one it keeps, so in a
    long string the long runs ("a" by the thousand, "!!!!…") are cut first: one C-level search per letter
    finds whether it has such a run, and one regex cuts them. The result is the same."""
    if len(s) >= 2 * LONG_RUN:
        for probe, runs, c in _LONG_RUNS:
            if probe in s:
                s = runs.sub(c, s)
    return SQUEEZE_RE.sub("", s)


def _invisible_set() -> set[int]:
    out: set[int] = set()
    for lo, hi in _INVISIBLE_RANGES:
        out.update(range(lo, hi + 1))
    return out


def _load_confusables() -> dict[str, str]:
    """Non-ASCII character → the ASCII letter or digit it looks like (lower case where a letter)."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    )
    out: dict[str, str] = {}
    for char, group in data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = {g["c"] for g in group if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()}
        if not targets:
            continue
        letters = {t.lower() for t in targets if t.isalpha()}
        if {"i", "l"} <= letters:
            out[char] = AMBIGUOUS
        elif letters:
            out[char] = min(letters)
        else:
            out[char] = min(targets)
    return out


@dataclass(frozen=True, slots=True)
class FoldTables:
    """The translate tables of both views, and what the matcher derives from them once per process."""

    literal: dict[int, str]
    """Translate table of the literal view (only characters that change)."""
    match: dict[int, str]
    """Translate table of the match view (only characters that change)."""
    hot: dict[int, str]
    """The match table with deletions written as DELETED, so ASCII text keeps CPython's fast translate
    path (which needs one ASCII character per ASCII input); remove DELETED afterwards."""
    steps: dict[int, tuple[str, ...]]
    """Evidence steps per original character (characters absent here are plain)."""
    ascii_match: bytes
    """The match view's ASCII part as a `bytes.translate` table: ASCII folds one character to at most one
    ASCII character, and bytes.translate is several times faster than str.translate."""
    ascii_match_keep_nul: bytes
    """`ascii_match` with NUL kept as NUL (a marker in `_mixed_view`)."""
    ascii_deleted: bytes
    """The ASCII characters the match view deletes (the joiners), for `bytes.translate`."""
    ascii_deleted_re: re.Pattern[str]
    """Finds those characters, to map an ASCII comment's match view back without a per-character loop."""
    ascii_literal_is_lower: bool
    """Whether the literal view of ASCII text is just its lower case (then `str.lower` builds it)."""
    irregular_literal: re.Pattern[str]
    """See `irregular_re`: characters the literal view may not fold to exactly one character."""
    irregular_match: re.Pattern[str]
    """The same for the match view."""
    stand_in: dict[str, str]
    """Non-ASCII character → an ASCII character whose match view is the same (at most one character): "é" →
    "e", "€" → "e", "£" → " ", a zero-width space → "." (deleted). A comment whose non-ASCII characters all
    have one is folded on the ASCII path once they are swapped for them (see `match_view`)."""

    def match_view(self, text: str) -> tuple[str, str]:
        """The comment with multi-character leet replaced (same length, so its offsets are the original's),
        and its match view: `fold_match`, on the fast paths."""
        # The test here spares most comments a function call.
        spaced_plus = "+" in text and ("+ " in text or " +" in text)
        folded = substitute_multi_leet(text) if ("(" in text or "|<" in text or spaced_plus) else text
        if folded.isascii():
            view = folded.encode("ascii").translate(self.ascii_match, self.ascii_deleted)
            return folded, view.decode("ascii")
        # A few accents, currency signs or typographic quotes in Latin text: swap them for their stand-ins
        # (a regex calls Python only at those characters) and take the ASCII path; str.translate on a
        # non-ASCII string looks every character up in a dict, several times slower.
        swapped = self.swap_stand_ins(folded)
        if swapped is not None:
            view = swapped.encode("ascii").translate(self.ascii_match, self.ascii_deleted)
            return folded, view.decode("ascii")
        if "\x00" not in folded:
            return folded, self._mixed_view(folded)
        raw = folded.translate(self.hot)
        return folded, raw.replace(DELETED, "") if DELETED in raw else raw

    def _mixed_view(self, text: str) -> str:
        """The match view of a text (without NUL) some of whose non-ASCII characters have no stand-in (another
        script's letters, ligatures): those become NUL, which the ASCII path keeps as it is, and their folds
        are put back in their places afterwards, so a few of them no longer send the whole text through
        str.translate."""
        folds: list[str] = []
        stand_in, match = self.stand_in, self.match

        def piece(m: re.Match[str]) -> str:
            ch = m.group()
            swap = stand_in.get(ch)
            if swap is not None:
                return swap
            folds.append(match.get(ord(ch), ch))
            return "\x00"

        swapped = _NON_ASCII_RE.sub(piece, text)
        view = (
            swapped.encode("ascii").translate(self.ascii_match_keep_nul, self.ascii_deleted).decode("ascii")
        )
        parts = view.split("\x00")
        out = [parts[0]]
        for fold, part in zip(folds, parts[1:], strict=True):
            out.append(fold)
            out.append(part)
        return "".join(out)

    def swap_stand_ins(self, text: str) -> str | None:
        """`text` with each non-ASCII character swapped for its stand-in (`stand_in`), None if one has none.
        The result is ASCII, as long as `text`, and its match view is `text`'s, character for character (the
        same characters deleted), so an ASCII offset map of it serves `text` too."""
        try:
            return _NON_ASCII_RE.sub(self._stand_in_piece, text)
        except KeyError:
            return None

    def _stand_in_piece(self, m: re.Match[str]) -> str:
        return self.stand_in[m.group()]


_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")


def _stand_ins(hot: dict[int, str], ascii_match: bytes, ascii_deleted: bytes) -> dict[str, str]:
    """For each non-ASCII character that folds to at most one ASCII character, an ASCII character folding
    to the same (`FoldTables.stand_in`)."""
    by_fold: dict[str, str] = {}
    for cp in range(32, 127):
        fold = "" if cp in ascii_deleted else chr(ascii_match[cp])
        by_fold.setdefault(fold, chr(cp))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        by_fold[letter] = letter  # a letter stands for itself
    out: dict[str, str] = {}
    for cp, piece in hot.items():
        if cp < 128:
            continue
        fold = "" if piece == DELETED else piece
        if len(fold) <= 1 and fold.isascii() and fold in by_fold:
            out[chr(cp)] = by_fold[fold]
    return out


def _literal_char(ch: str, confusables: dict[str, str], invisible: set[int]) -> tuple[str, list[str]]:
    steps: list[str] = []
    if ord(ch) in invisible:
        return "", ["invisible"]
    n = unicodedata.normalize("NFKC", ch)
    if n != ch:
        steps.append("nfkc")
    f = n.casefold()
    if f != n and not n.isascii():
        steps.append("casefold")
    d = unicodedata.normalize("NFD", f)
    stripped = "".join(c for c in d if not unicodedata.combining(c))
    if stripped != d:
        steps.append("accent")
    # Recompose what is left (e.g. Hangul), then map look-alikes by shape, character by character.
    out = []
    for c in unicodedata.normalize("NFC", stripped):
        if not c.isascii() and c in confusables:
            c2 = confusables[c]
            if "confusable" not in steps:
                steps.append("confusable")
            out.append(c2 if c2 == AMBIGUOUS else c2.lower())
        elif ord(c) in invisible:
            if "invisible" not in steps:
                steps.append("invisible")
        else:
            out.append(c)
    return "".join(out), steps


def _match_piece(lit: str) -> tuple[str, list[str]]:
    """The match view of a literal-view piece, and the steps that changed it."""
    out = []
    steps: list[str] = []
    for c in lit:
        if "a" <= c <= "z" or c == AMBIGUOUS:
            out.append(c)
        elif c in LEET:
            out.append(LEET[c])
            steps.append("leet")
        elif c in MASK_CHARS:
            out.append(MASK)
            steps.append("masked")
        elif c in JOINERS:
            steps.append("separated")
        elif c.isascii():
            out.append(" ")
            if c.isspace() or c in "/\\":
                steps.append("separated")
        else:
            cat = unicodedata.category(c)
            if cat[0] in "LN" or cat[0] == "M":
                out.append(c)
            else:
                out.append(" ")
                if cat[0] == "Z":
                    steps.append("separated")
    return "".join(out), steps


@functools.lru_cache(maxsize=1)
def tables() -> FoldTables:
    """Build the fold tables once per process (about a third of a second)."""
    confusables = _load_confusables()
    invisible = _invisible_set()
    literal: dict[int, str] = {}
    match: dict[int, str] = {}
    steps: dict[int, tuple[str, ...]] = {}
    for cp in list(range(_SCAN_LIMIT)) + sorted(i for i in invisible if i >= _SCAN_LIMIT):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        lit, st = _literal_char(ch, confusables, invisible)
        m, st2 = _match_piece(lit)
        all_steps = tuple(dict.fromkeys(st + st2))
        if lit != ch:
            literal[cp] = lit
        if m != ch:
            match[cp] = m
        if all_steps:
            steps[cp] = all_steps
    hot = {cp: (DELETED if cp < 128 and v == "" else v) for cp, v in match.items()}
    ascii_match, ascii_deleted = _ascii_table(match)
    return FoldTables(
        literal=literal,
        match=match,
        hot=hot,
        steps=steps,
        ascii_match=ascii_match,
        ascii_match_keep_nul=b"\x00" + ascii_match[1:],
        ascii_deleted=ascii_deleted,
        ascii_deleted_re=re.compile("[" + re.escape(ascii_deleted.decode("ascii")) + "]"),
        ascii_literal_is_lower=all(literal.get(cp, chr(cp)) == chr(cp).lower() for cp in range(128)),
        irregular_literal=irregular_re(literal),
        irregular_match=irregular_re(match),
        stand_in=_stand_ins(hot, ascii_match, ascii_deleted),
    )


def fold_literal(text: str) -> str:
    return text.translate(tables().literal)


def fold_match(text: str) -> str:
    return substitute_multi_leet(text).translate(tables().match)


def fold_match_fast(text: str) -> str:
    """Same result as fold_match, faster on ASCII text."""
    return tables().match_view(text)[1]


def _ascii_table(match: dict[int, str]) -> tuple[bytes, bytes]:
    """The match table's ASCII part for `bytes.translate`: the table and the deleted bytes."""
    table = bytearray(range(256))
    delete = bytearray()
    for cp in range(128):
        piece = match.get(cp, chr(cp))
        if piece == "":
            delete.append(cp)
        else:
            assert len(piece) == 1 and piece.isascii(), (cp, piece)
            table[cp] = ord(piece)
    return bytes(table), bytes(delete)


def irregular_re(table: dict[int, str]) -> re.Pattern[str]:
    """Matches every character that a view's table may fold to other than exactly one character: the ASCII
    ones exactly, and any non-ASCII character (few in most comments; SparseOffsetMap checks those against
    the table, as a class of the thousands of irregular code points scans slowly)."""
    ascii_irregular = "".join(chr(cp) for cp in range(128) if len(table.get(cp, chr(cp))) != 1)
    pattern = "[^\\x00-\\x7f]"
    if ascii_irregular:
        pattern += "|[" + re.escape(ascii_irregular) + "]"
    return re.compile(pattern)


def evidence_for(original: str, steps_table: dict[int, tuple[str, ...]], skip_spaces: bool) -> list[str]:
    """Union of the per-character steps over an original span, in STEPS order."""
    if original.isascii() and original.isalpha():
        return []  # plain letters, upper or lower case: nothing to report
    found: set[str] = set()
    for ch in original:
        st = steps_table.get(ord(ch))
        if st:
            if skip_spaces and ch.isspace():
                continue
            found.update(st)
    return [s for s in STEPS if s in found]
