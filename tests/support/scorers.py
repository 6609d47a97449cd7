"""Deterministic stand-ins for the toxicity model (test doubles, named as such).

The real Detoxify loader is tested on real checkpoints in tests/moderation/test_toxicity.py; a tiny random
model can't be made to score "insult" at exactly 0.7, so policy and API tests use these, which score what the
text tells them to: a marker such as ``[[insult=0.72]]`` anywhere in the text sets that category's score.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from service.model.base import UNBIASED_CATEGORIES as CATEGORIES

_MARKER = re.compile(r"\[\[([a-z_]+)=([0-9.]+)\]\]")


class MarkerScorer:
    """Scores 0.01 for every category unless the text carries ``[[category=score]]`` markers."""

    def __init__(self, model_id: str = "marker:000000000000", categories: Sequence[str] = CATEGORIES) -> None:
        self.model_id = model_id
        self.categories = tuple(categories)
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        with self._lock:
            self.calls.append(list(texts))
        out = []
        for text in texts:
            scores = dict.fromkeys(self.categories, 0.01)
            for name, value in _MARKER.findall(text):
                if name in scores:
                    scores[name] = float(value)
            out.append(scores)
        return out

    @property
    def texts_scored(self) -> int:
        return sum(len(c) for c in self.calls)


class FailingScorer(MarkerScorer):
    """Raises on every call, as a model that ran out of memory or hit a corrupt tensor would."""

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        super().score(texts)
        raise RuntimeError("simulated inference failure")


class NaNScorer(MarkerScorer):
    """Returns NaN for one category, as a numerically broken model would."""

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        out = super().score(texts)
        for scores in out:
            scores["insult"] = float("nan")
        return out


class GatedScorer(MarkerScorer):
    """Blocks inside `score` until `release` is set, so a test can hold the model busy and fill the queue.

    `entered` is set each time a call starts. The wait is bounded, so a test that forgets to release fails
    instead of hanging.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.entered = threading.Event()
        self.release = threading.Event()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.entered.set()
        if not self.release.wait(timeout=30):
            raise RuntimeError("GatedScorer was never released")
        return super().score(texts)
