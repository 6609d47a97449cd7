"""The ONNX Runtime backend: a folder written by `moderation model export`, scored without PyTorch.

The folder holds `model.onnx`, the tokenizer files of the checkpoint (`tokenizer.json` is what is read: the
fast, Rust tokenizer of the same files Detoxify uses) and `manifest.json`:

    {"format": "moderation-onnx", "format_version": 1,
     "model_id": "tiny:3f2a9c81d0e4+onnx-int8",        # what verdicts and cache keys carry
     "source": {"name": "tiny", "sha256": "<the checkpoint file's whole sha256>", "model_id": "tiny:3f2a…"},
     "categories": [...], "max_length": 512, "pad_id": 0, "inputs": ["input_ids", ...],
     "quantization": "none" | "int8-dynamic", "optimized": true, "parity": {...}, "exporter": {...}}

The model id names the source checkpoint plus the backend and quantization, so an int8 export (whose scores
differ slightly from PyTorch's) never shares cached verdicts with the checkpoint it came from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service.model.base import ModelLoadError
from service.model.windows import DEFAULT_WINDOW_OVERLAP, Logits, ModelInputs, TokenWindows

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.onnx"
TOKENIZER_NAME = "tokenizer.json"
FORMAT = "moderation-onnx"
FORMAT_VERSION = 1


class OnnxScorer:
    """Scores with an ONNX Runtime session; same `Scorer` protocol and windowing as `DetoxifyScorer`."""

    def __init__(
        self, folder: Path, manifest: Mapping[str, Any], *, threads: int, window_overlap: int
    ) -> None:
        import onnxruntime as ort
        import tokenizers

        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.folder = folder
        self.manifest = dict(manifest)
        self.model_id: str = manifest["model_id"]
        self.categories: tuple[str, ...] = tuple(manifest["categories"])
        self.max_length = int(manifest["max_length"])
        self.threads = threads
        options = ort.SessionOptions()
        # Explicit counts: ORT's default sizes its pool from the machine, not from what this process is given.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ORT threads otherwise spin for a while after each call, taking the cores the event loop needs
        # to parse the next requests while the batcher waits for them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(folder / MODEL_NAME), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.windows = TokenWindows(
            tokenizers.Tokenizer.from_file(str(folder / TOKENIZER_NAME)),
            max_length=self.max_length,
            overlap=window_overlap,
            pad_id=int(manifest.get("pad_id", 0)),
            token_type_ids="token_type_ids" in self._input_names,
        )

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return self.windows.score(texts, self._run, self.categories)

    def _run(self, inputs: ModelInputs) -> Logits:
        feed = {name: array for name, array in inputs.items() if name in self._input_names}
        (logits,) = self._session.run(["logits"], feed)
        return np.asarray(logits)

    def check(self) -> None:
        """One inference at load: proves the files work together and keeps first-call costs off requests."""
        self.score(["load check"])


def read_manifest(folder: Path) -> dict[str, Any]:
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{MANIFEST_NAME} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{MANIFEST_NAME} has format_version {manifest.get('format_version')!r}; this service reads "
            f"{FORMAT_VERSION} (export the model again with this version)"
        )
    for key in ("model_id", "categories", "max_length"):
        if key not in manifest:
            raise ValueError(f"{MANIFEST_NAME} has no {key!r}")
    return manifest


def load_onnx_scorer(
    folder: Path, threads: int, *, window_overlap: int = DEFAULT_WINDOW_OVERLAP
) -> OnnxScorer:
    """Load an exported folder, or raise `ModelLoadError` naming the folder and the cause."""
    folder = folder.expanduser().resolve()
    label = folder.name or str(folder)
    try:
        manifest = read_manifest(folder)
        for name in (MODEL_NAME, TOKENIZER_NAME):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"the folder has a manifest but no {name}")
        scorer = OnnxScorer(folder, manifest, threads=threads, window_overlap=window_overlap)
        scorer.check()
    except Exception as exc:
        raise ModelLoadError(label, f"{type(exc).__name__}: {exc}", path=folder) from exc
    log.info(
        "toxicity model %s loaded from %s (ONNX Runtime, quantization %s, %d threads)",
        scorer.model_id,
        folder,
        manifest.get("quantization", "none"),
        threads,
    )
    return scorer
