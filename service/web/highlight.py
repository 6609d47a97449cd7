"""Cutting a comment into plain and highlighted pieces for the dashboard's templates."""

from __future__ import annotations

from collections.abc import Sequence


def highlight_segments(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` as consecutive (part, highlighted) pieces; overlapping or touching spans merge, spans outside
    the text are clipped. The parts concatenate back to `text` exactly."""
    clipped = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    merged: list[list[int]] = []
    for start, end in clipped:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merged:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out
