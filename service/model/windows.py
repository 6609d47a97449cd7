"""Model inputs for texts of any length: whole when they fit, overlapping windows when they don't.

A BERT-family model sees at most `max_length` tokens (special tokens included). Truncating would leave a
blind spot after the limit: an insult after 600 tokens of polite text would never be scored. Instead a long
text's tokens are cut into windows of the model's full length that overlap by `overlap` tokens, every
window is scored, and each category takes the maximum over the text's windows — a text is as toxic as its
worst part. The last window is aligned to the text's end, so every window has a full context.

Both backends (PyTorch and ONNX Runtime) use this module with the fast (Rust) tokenizer of the same files,
so they feed the model the same token ids; a text that fits gets exactly the ids the Hugging Face
tokenizer would give it (`[CLS] … [SEP]` for BERT, `<s> … </s>` for RoBERTa).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import tokenizers

DEFAULT_WINDOW_OVERLAP = 128
"""Tokens two neighbouring windows share: enough that a sentence cut by one window's edge is whole in the
other (sentences in comments are rarely longer)."""

INFERENCE_CHUNK = 32
"""The most windows one model call takes. The micro-batcher's batches are smaller; this bounds the memory
of a batch that holds a few very long comments (a 10,000-character comment is about 6 windows)."""

ModelInputs = Mapping[str, npt.NDArray[np.int64]]
"""One model call's inputs: `input_ids`, `attention_mask` (and `token_type_ids`), each [windows, tokens]."""

Logits = npt.NDArray[np.floating]
"""One model call's output: a row of logits per window, a column per category."""

RunModel = Callable[[ModelInputs], Logits]
"""One model call: inputs → logits [n, classes]."""


class TokenWindows:
    """Tokenizes texts without truncation and lays long ones out as overlapping windows."""

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        *,
        max_length: int,
        overlap: int = DEFAULT_WINDOW_OVERLAP,
        pad_id: int = 0,
        token_type_ids: bool = True,
    ) -> None:
        self._tokenizer = tokenizer
        # The tokenizer file may carry truncation or padding settings of its own (Hugging Face writes them
        # into tokenizer.json after a call with truncation=True); windows need the whole text.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.prefix, self.suffix = _special_tokens(tokenizer)
        self.max_length = max_length
        self.body_length = max_length - len(self.prefix) - len(self.suffix)
        if self.body_length < 2:
            raise ValueError(f"max_length {max_length} leaves no room for text between the special tokens")
        if overlap < 0:
            raise ValueError(f"overlap must be at least 0 tokens, got {overlap}")
        # A model with a short limit (a small test model, say) gets half a window of overlap at most, so a
        # window always moves on by at least half its length.
        self.overlap = min(overlap, self.body_length // 2)
        self.pad_id = pad_id
        self.token_type_ids = token_type_ids

    def split(self, ids: Sequence[int]) -> list[list[int]]:
        """The windows of one text's token ids (special tokens not included), each with its special tokens."""
        body, n = self.body_length, len(ids)
        if n <= body:
            starts = [0]
        else:
            step = body - self.overlap
            starts = [*range(0, n - body, step), n - body]
        return [[*self.prefix, *ids[s : s + body], *self.suffix] for s in starts]

    def encode(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """All windows of `texts` and, for each window, the index of the text it belongs to."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        windows: list[list[int]] = []
        owners: list[int] = []
        for i, encoding in enumerate(encodings):
            for window in self.split(encoding.ids):
                windows.append(window)
                owners.append(i)
        return windows, owners

    def inputs(self, windows: Sequence[Sequence[int]]) -> dict[str, npt.NDArray[np.int64]]:
        """Padded int64 model inputs for `windows` (padding to the longest of them)."""
        width = max(len(w) for w in windows)
        input_ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            input_ids[row, : len(window)] = window
            attention_mask[row, : len(window)] = 1
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.token_type_ids:
            feed["token_type_ids"] = np.zeros_like(input_ids)  # one sequence per window: all type 0
        return feed

    def score(
        self, texts: Sequence[str], run: RunModel, categories: Sequence[str], chunk: int = INFERENCE_CHUNK
    ) -> list[dict[str, float]]:
        """Scores per text: sigmoid of the logits, each category's maximum over the text's windows.

        Windows run sorted by length, `chunk` at a time, so one model call pads as little as possible.
        Raises `RuntimeError` when the model's output has the wrong shape or holds a non-number.
        """
        if not texts:
            return []
        windows, owners = self.encode(texts)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        probabilities = np.empty((len(windows), len(categories)), dtype=np.float64)
        for begin in range(0, len(order), chunk):
            part = order[begin : begin + chunk]
            logits = np.asarray(run(self.inputs([windows[i] for i in part])), dtype=np.float64)
            if logits.shape != (len(part), len(categories)):
                raise RuntimeError(
                    f"model returned logits of shape {logits.shape} for {len(part)} windows and "
                    f"{len(categories)} categories"
                )
            probabilities[part] = _sigmoid(logits)
        if not np.all(np.isfinite(probabilities)):
            raise RuntimeError("model returned a score that is not a number")
        best = np.full((len(texts), len(categories)), -math.inf)
        np.maximum.at(best, np.asarray(owners), probabilities)
        return [dict(zip(categories, (float(p) for p in row), strict=True)) for row in best]


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # exp of a large positive logit overflows; this form never does.
    out: npt.NDArray[np.float64] = np.where(
        x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x)))
    )
    return out


def _special_tokens(tokenizer: tokenizers.Tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids the tokenizer's post-processor puts before and after one sequence (e.g. [CLS] and [SEP]).

    Read from the tokenizer itself rather than assumed, so BERT, RoBERTa and ALBERT files all work.
    """
    probe = "a"
    bare = tokenizer.encode(probe, add_special_tokens=False).ids
    full = tokenizer.encode(probe, add_special_tokens=True).ids
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return tuple(full[:start]), tuple(full[start + len(bare) :])
    raise ValueError("cannot locate the text between the tokenizer's special tokens")
