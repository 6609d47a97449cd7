"""Long comments: overlapping windows, each category's maximum — no blind spot after the token limit."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import tokenizers
import transformers

from service.model.windows import TokenWindows

CATEGORIES = ("toxicity", "insult")
CLEAN = "the council meeting on tuesday ran late because of the parking debate "
TOXIC = "you are an idiot"


def _windows(folder: Path, max_length: int, overlap: int) -> TokenWindows:
    return TokenWindows(
        tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json")), max_length=max_length, overlap=overlap
    )


class KeywordModel:
    """A deterministic stand-in for the model: `insult` is certain in a window holding the token of
    "idiot" and unlikely elsewhere. Records the windows it saw."""

    def __init__(self, keyword_id: int) -> None:
        self.keyword_id = keyword_id
        self.windows: list[list[int]] = []

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        logits = np.full((len(inputs["input_ids"]), len(CATEGORIES)), -6.0)
        for row, (ids, mask) in enumerate(zip(inputs["input_ids"], inputs["attention_mask"], strict=True)):
            self.windows.append([int(i) for i, m in zip(ids, mask, strict=True) if m])
            if self.keyword_id in ids[mask == 1]:
                logits[row, CATEGORIES.index("insult")] = 6.0
        return logits


def test_a_toxic_sentence_after_600_clean_tokens_is_caught(tiny_folder: Path):
    windows = _windows(tiny_folder, max_length=512, overlap=128)
    keyword = windows._tokenizer.token_to_id("idiot")
    assert keyword is not None
    text = CLEAN * 60 + TOXIC
    ids = windows._tokenizer.encode(text, add_special_tokens=False).ids
    assert len(ids) > 600 and ids.index(keyword) > 600  # beyond anything a truncating scorer sees

    model = KeywordModel(keyword)
    (scores,) = windows.score([text], model, CATEGORIES)
    assert scores["insult"] > 0.99
    assert scores["toxicity"] < 0.01
    assert len(model.windows) >= 2 and all(len(w) <= 512 for w in model.windows)

    # The same text cut at the limit, as a truncating scorer would see it, is clean: the windows matter.
    truncated = windows._tokenizer.decode(ids[:510])
    (cut,) = windows.score([truncated], KeywordModel(keyword), CATEGORIES)
    assert cut["insult"] < 0.01


def test_windows_cover_every_token_with_the_configured_overlap(tiny_folder: Path):
    windows = _windows(tiny_folder, max_length=16, overlap=4)
    cls, sep = windows.prefix, windows.suffix
    assert len(cls) == 1 and len(sep) == 1
    ids = list(range(1000, 1037))  # 37 body tokens, 14 per window
    split = windows.split(ids)
    bodies = [w[1:-1] for w in split]
    assert all(w[:1] == list(cls) and w[-1:] == list(sep) and len(w) == 16 for w in split)
    assert bodies[0] == ids[:14] and bodies[-1] == ids[-14:]  # the last window ends with the text
    covered = sorted({t for b in bodies for t in b})
    assert covered == ids
    for left, right in itertools.pairwise(bodies):
        assert len(set(left) & set(right)) >= 4
    assert windows.split(ids[:14]) == [[*cls, *ids[:14], *sep]]  # fits: one window, untouched


def test_a_text_that_fits_gets_the_ids_the_hugging_face_tokenizer_gives(tiny_folder: Path):
    windows = _windows(tiny_folder, max_length=64, overlap=16)
    hf = transformers.AutoTokenizer.from_pretrained(tiny_folder)
    texts = ["Thanks for the thoughtful article!", "You are an idiot, go back to school."]
    produced, owners = windows.encode(texts)
    assert owners == [0, 1]
    assert produced == hf(texts)["input_ids"]
    feed = windows.inputs(produced)
    expected = hf(texts, padding=True, return_tensors="np")
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        assert np.array_equal(feed[name], expected[name]), name


def test_each_category_takes_its_maximum_over_the_windows(tiny_folder: Path):
    windows = _windows(tiny_folder, max_length=16, overlap=4)
    calls = iter([np.array([[-1.0, 2.0], [3.0, -4.0], [0.0, 0.0]])])
    scores = windows.score([" ".join("w" * 30)], lambda feed: next(calls), CATEGORIES)  # 3 windows
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert scores[0]["toxicity"] == pytest.approx(sigmoid(3.0))
    assert scores[0]["insult"] == pytest.approx(sigmoid(2.0))


def test_a_model_with_a_short_limit_gets_half_a_window_of_overlap(tiny_folder: Path):
    windows = _windows(tiny_folder, max_length=64, overlap=128)
    assert windows.overlap == (64 - 2) // 2
    with pytest.raises(ValueError):
        _windows(tiny_folder, max_length=64, overlap=-1)
