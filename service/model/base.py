"""What every part of the service knows of the toxicity model: the `Scorer` protocol and its failures.

    Scorer          model_id, categories, score(texts) -> one {category: probability} per text (blocking)
     ├── NoModel        MODERATION_MODEL=none: the word list alone
     ├── DetoxifyScorer a Detoxify checkpoint run by PyTorch (detoxify.py)
     └── OnnxScorer     an export of one run by ONNX Runtime (onnx.py)
    ModelLoadError  the model could not be loaded; its message names the cause and the remedies

Nothing here imports torch, transformers or onnxruntime: the pipeline and the API depend on this module
only, whichever backend runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

NO_MODEL = "none"
"""The `MODERATION_MODEL` value that runs the service on the word list alone."""

UNBIASED_CATEGORIES: tuple[str, ...] = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)
"""The toxicity categories of Detoxify's `unbiased` model (its nine identity categories left out)."""


class ModelLoadError(Exception):
    """The toxicity model could not be loaded; `str()` is the message to print before exiting."""

    # `path` is not keyword-only: unpickling rebuilds an exception as `cls(*args)`, and this one crosses
    # process boundaries (rescoring on Ray loads the model in a task and raises it in the driver).
    def __init__(self, model: str, cause: str, path: Path | None = None) -> None:
        super().__init__(model, cause, path)
        self.model = model
        self.cause = cause
        self.path = path

    def __str__(self) -> str:
        where = f" from {self.path}" if self.path is not None else ""
        return (
            f"Could not load the toxicity model {self.model!r}{where}: {self.cause}\n"
            "Remedies:\n"
            "  - set MODERATION_MODEL_PATH to a local folder holding one Detoxify checkpoint (a .ckpt or .pt "
            "file with 'config' and 'state_dict') and the Hugging Face config.json and tokenizer files of "
            "its base model: this runs without network;\n"
            "  - where there is network, pull the weights once so they are cached (torch hub under "
            "$TORCH_HOME, Hugging Face files under $HF_HOME): "
            "python -c \"import detoxify; detoxify.Detoxify('unbiased')\" with the model name you run;\n"
            f"  - or set MODERATION_MODEL={NO_MODEL} to run on the word list alone."
        )


class Scorer(Protocol):
    model_id: str
    """The checkpoint's identity, `<name>:<12 hex of sha256>`, or `none`; part of verdicts and cache keys."""

    categories: tuple[str, ...]
    """Detoxify's (standardised) class names, in the model's output order; empty for `NoModel`."""

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Blocking: one dict per text, category -> probability in [0, 1]. Raises on failure."""
        ...


class NoModel:
    """The scorer of `MODERATION_MODEL=none`: no categories, and nothing to score with."""

    model_id: str = NO_MODEL
    categories: tuple[str, ...] = ()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        raise RuntimeError(f"no toxicity model is loaded (MODERATION_MODEL={NO_MODEL})")
