"""Shared bits of the rescoring tests: input files and reading outputs back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tests.support.scorers import MarkerScorer

# (text, what MarkerScorer + the shipped policy make of it)
TEXTS = [
    ("What a thoughtful article, thank you.", "accept"),
    ("You are a complete [[insult=0.9]] disgrace", "reject"),
    ("Borderline [[insult=0.6]] remark", "review"),
    ("[[threat=0.75]] I know where the mayor lives", "reject"),
    ("Plain words about the bridge project", "accept"),
]


def comments(n: int) -> list[dict[str, Any]]:
    """n comments cycling through TEXTS, each with a previous verdict that is right for 3 rows in 5."""
    out = []
    for i in range(n):
        text, expected = TEXTS[i % len(TEXTS)]
        previous = expected if i % 5 < 3 else ("accept" if expected != "accept" else "reject")
        out.append({"id": f"c{i}", "text": f"{text} #{i}", "verdict": previous, "site": f"s{i % 3}"})
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def marker_scorer() -> MarkerScorer:
    return MarkerScorer()
