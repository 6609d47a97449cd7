"""Text from outside shown as it is, not as its bidi controls would arrange the page.

A comment (or an id, a note) may hold bidirectional formatting characters: an override (U+202E) shows the
rest of the line reversed, an embedding or isolate regroups it, so "gnp.exe" reads as "exe.png" and a
comment can seem to end where it does not. The templates put each such value in its own <bdi> (the comment
text in a dir=auto block with unicode-bidi: isolate), so nothing outside it is reordered, and `reveal` turns
every bidi control inside into a visible mark naming it, so nothing inside is reordered either.
"""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

# ALM, LRM, RLM, the embeddings and overrides (LRE RLE PDF LRO RLO) and the isolates (LRI RLI FSI PDI).
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _mark(match: re.Match[str]) -> str:
    char = match.group()
    code = f"U+{ord(char):04X}"
    return f'<span class="bidi-control" title="{code} {unicodedata.name(char, "")}">{code}</span>'


def reveal(text: object) -> Markup:
    """`text` escaped for HTML, with each bidi control replaced by a visible mark."""
    return Markup(BIDI_CONTROLS.sub(_mark, str(escape("" if text is None else text))))
