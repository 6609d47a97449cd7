"""The text an HTML comment shows, and a map from spans of that text back to the HTML.

Coral Talk sends a comment's body as the HTML its editor made (`<b>`, `<i>`, `<a>`, `<br>`, `<div>`,
`<blockquote>`, entities). The word list and the model read text, so the text is what a reader sees:

- tags and comments are dropped; block tags and `<br>` become a newline, so that words on two lines do not
  join ("good<br>bye" is "good\\nbye"), while inline tags leave nothing, so that a word split by formatting is
  still one word ("f<b>o</b>o" is "foo", as a browser shows it, and the word list sees it whole);
- character references are decoded as a browser decodes them ("&amp;" "&#39;" "&#x1F600;"; a named one
  without its ";" where HTML allows that, "&amp" in "&ampx"); an unknown one stays text;
- what a browser does not show is left out: attribute values (a link's href), `<script>` and `<style>`;
- a tag left open at the end (`<b class="x`) is dropped to the end, as a browser drops it.

`HtmlText.html_span(start, end)` maps a span of the text to the span of the HTML it came from: a decoded
reference or a tag's newline maps to the whole reference or tag, so a span never cuts one in two.

Linear in the HTML's length whatever it holds: every scan moves forward with `str.find` or a regex anchored
where the last one stopped.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass

#: Tags after which a browser starts a new line (or a cell): their text does not run into the next.
BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd details div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section summary table td th tr ul".split()
)
#: Elements whose content is not text a reader sees.
HIDDEN_CONTENT = frozenset({"script", "style", "template"})

_SPECIAL = re.compile(r"[<&]")
_TAG_NAME = re.compile(r"/?([A-Za-z][^\t\n\f\r />]*)")
_TAG_END_OR_QUOTE = re.compile(r"""[>"']""")
# The references html.unescape knows, numeric ones apart (their digits are bounded below).
_NAMED_REF = re.compile(r"&[^\t\n\f <&#;]{1,32};?")
_NUMERIC_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")
#: More significant digits than any code point has: a browser decodes such a reference as U+FFFD (and
#: int() refuses strings of thousands of digits).
_MAX_REF_DIGITS = 8


@dataclass(frozen=True)
class _Run:
    """A stretch of the text: copied from the HTML character for character (`literal`), or made from
    html[html_start:html_end] as a whole (a decoded reference, the newline of a block tag)."""

    text_start: int
    html_start: int
    html_end: int
    literal: bool


class HtmlText:
    """`text`: what `html` shows; `html_span` maps spans of the text back into `html`."""

    def __init__(self, source: str, text: str, runs: list[_Run]) -> None:
        self.html = source
        self.text = text
        self._runs = runs
        self._starts = [run.text_start for run in runs]

    def _run(self, index: int) -> _Run:
        return self._runs[bisect.bisect_right(self._starts, index) - 1]

    def html_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of `html` that text[start:end] came from (0 <= start < end <= len(text))."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"({start}, {end}) is not a span of a {len(self.text)}-character text")
        first, last = self._run(start), self._run(end - 1)
        html_start = first.html_start + (start - first.text_start) if first.literal else first.html_start
        html_end = last.html_start + (end - last.text_start) if last.literal else last.html_end
        return html_start, html_end


def html_text(source: str) -> HtmlText:
    """The text `source` shows in a browser, with its map back (see the module's docstring)."""
    if "<" not in source and "&" not in source:
        return plain_text(source)
    pieces: list[str] = []
    runs: list[_Run] = []
    length = 0  # of the text so far

    def literal(start: int, end: int) -> None:
        nonlocal length
        if end <= start:
            return
        last = runs[-1] if runs else None
        if last is not None and last.literal and last.html_end == start:
            # One run for text interrupted only by "<" or "&" that are text themselves ("a < b").
            runs[-1] = _Run(last.text_start, last.html_start, end, True)
        else:
            runs.append(_Run(length, start, end, True))
        pieces.append(source[start:end])
        length += end - start

    def replaced(text: str, start: int, end: int) -> None:
        nonlocal length
        runs.append(_Run(length, start, end, False))
        pieces.append(text)
        length += len(text)

    position, size = 0, len(source)
    while position < size:
        found = _SPECIAL.search(source, position)
        if found is None:
            literal(position, size)
            break
        at = found.start()
        literal(position, at)
        if source[at] == "&":
            end, decoded = _reference(source, at)
            if decoded is None:
                literal(at, end)
            else:
                replaced(decoded, at, end)
            position = end
            continue
        end, name, closing = _markup(source, at)
        if name is None:  # a "<" that opens nothing: text
            literal(at, at + 1)
            position = at + 1
            continue
        if name in BLOCK_TAGS:
            replaced("\n", at, end)
        if name in HIDDEN_CONTENT and not closing:
            end = _after_closing(source, end, name)
        position = end
    if not runs:
        runs.append(_Run(0, 0, 0, True))
    return HtmlText(source, "".join(pieces), runs)


def plain_text(source: str) -> HtmlText:
    """`source` as the text it is (a body sent as plain text), mapped to itself."""
    return HtmlText(source, source, [_Run(0, 0, len(source), True)])


def _reference(source: str, at: int) -> tuple[int, str | None]:
    """(end, decoded) of the character reference at `at`; decoded None where it is not one."""
    numeric = _NUMERIC_REF.match(source, at)
    if numeric is not None:
        hex_digits, decimal = numeric.groups()
        digits = (hex_digits or decimal).lstrip("0")
        if len(digits) > _MAX_REF_DIGITS:
            return numeric.end(), "\ufffd"
        # html.unescape applies HTML's rules: 0, surrogates and past U+10FFFF are U+FFFD, 0x80-0x9F
        # windows-1252, so no unpaired surrogate ever comes out of a reference.
        normal = f"&#x{digits or '0'};" if hex_digits is not None else f"&#{digits or '0'};"
        return numeric.end(), html.unescape(normal)
    named = _NAMED_REF.match(source, at)
    if named is None:
        return at + 1, None
    decoded = html.unescape(named.group())
    if decoded == named.group():
        return at + 1, None  # not a reference: the "&" is text, the rest is read on
    # "&ampx" decodes its longest known prefix ("&amp") and keeps the rest: the whole match maps as one.
    return named.end(), decoded


def _markup(source: str, at: int) -> tuple[int, str | None, bool]:
    """(end, tag name in lower case, closing) of the markup opened by the "<" at `at`; name "" for a comment
    or declaration, None where the "<" opens nothing (it is text)."""
    after = source[at + 1 : at + 2]
    if source.startswith("<!--", at):
        end = source.find("-->", at + 4)
        return (len(source) if end < 0 else end + 3), "", False
    if after in ("!", "?"):
        end = source.find(">", at + 2)
        return (len(source) if end < 0 else end + 1), "", False
    name = _TAG_NAME.match(source, at + 1)
    if name is None:
        return at + 1, None, False
    position = name.end()
    while True:
        found = _TAG_END_OR_QUOTE.search(source, position)
        if found is None:
            return len(source), name.group(1).lower(), name.group().startswith("/")
        if found.group() == ">":
            return found.end(), name.group(1).lower(), name.group().startswith("/")
        close = source.find(found.group(), found.end())
        if close < 0:
            return len(source), name.group(1).lower(), name.group().startswith("/")
        position = close + 1


def _after_closing(source: str, position: int, name: str) -> int:
    """Where the hidden element `name` opened before `position` ends: after its closing tag, or the end."""
    closing = re.compile(rf"</{re.escape(name)}[\s/>]", re.IGNORECASE).search(source, position)
    if closing is None:
        return len(source)
    end = source.find(">", closing.end() - 1)
    return len(source) if end < 0 else end + 1


def utf16_offset(source: str, offset: int) -> int:
    """`offset` (in code points) counted in UTF-16 code units, as JavaScript counts string positions."""
    if source.isascii():
        return offset
    return len(source[:offset].encode("utf-16-le")) // 2
