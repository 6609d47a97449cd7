"""Toxicity scores from Detoxify, behind a small `Scorer` protocol.

`load_scorer` runs once, in the app's lifespan; `Scorer.score` is blocking and is called from one worker
thread (the micro-batcher's), never on the event loop. Three ways to get a scorer:

- a Detoxify model name (`original`, `unbiased`, `multilingual`, `original-small`, `unbiased-small`):
  Detoxify's own download path, cached by torch hub (checkpoint) and Hugging Face (config, tokenizer);
- `model_path`, a local folder holding exactly one Detoxify checkpoint (`*.ckpt` or `*.pt`, a dict with
  `config` and `state_dict`) plus the Hugging Face `config.json` and tokenizer files of its base model:
  the way an offline site runs it (see `_checkpoint_for_folder` for how it stays offline);
- `model_path`, a folder written by `moderation model export` (a `manifest.json` next to `model.onnx`):
  the same model run by ONNX Runtime (service/moderation/onnx_backend.py);
- `none`: `NoModel`, the word list alone.

Texts longer than the model's token limit are scored in overlapping windows, each category taking its
maximum over the windows (service/moderation/windows.py), by both backends.

Model identity: `model_id` is `<name>:<first 12 hex digits of the checkpoint file's sha256>`, e.g.
`unbiased:3f2a9c81d0e4`. For a named model the name is the Detoxify name and the file is torch hub's cached
copy; for a folder the name is the checkpoint's file stem (e.g. `toxic_debiased-c7548aa0` or `tiny`), which
names the checkpoint better than a folder called `model` would. Verdicts and cache keys carry this id, so a
changed checkpoint never serves cached verdicts of the old one. Only the checkpoint file is hashed: the
tokenizer and config files are taken as part of the base model the checkpoint was trained on.

Every failure while loading becomes `ModelLoadError` (the cause chained), whose message names the model,
the cause and the remedies, ready for the service to print before it exits.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from service.moderation.windows import DEFAULT_WINDOW_OVERLAP, TokenWindows

if TYPE_CHECKING:  # torch and detoxify are imported when a model is loaded, not with this module
    import detoxify
    import numpy as np

log = logging.getLogger(__name__)

NO_MODEL = "none"
"""The `MODERATION_MODEL` value that runs the service on the word list alone."""

CHECKPOINT_SUFFIXES = (".ckpt", ".pt")
MODEL_ID_HASH_LENGTH = 12

# RoBERTa-family models number positions from padding_idx + 1, so of their 514 position embeddings only
# 512 hold tokens; BERT and ALBERT use every one.
_OFFSET_POSITION_MODELS = frozenset({"roberta", "xlm-roberta", "camembert"})


class ModelLoadError(Exception):
    """The toxicity model could not be loaded; `str()` is the message to print before exiting."""

    def __init__(self, model: str, cause: str, *, path: Path | None = None) -> None:
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


class DetoxifyScorer:
    """A loaded `detoxify.Detoxify`, scoring batches through its model and tokenizer.

    Scores are Detoxify's (sigmoid of the logits), computed the way `Detoxify.predict` does, plus what a
    service needs: an explicit thread count, `torch.inference_mode`, and truncation to what the model can
    take even when the tokenizer files do not say it.
    """

    def __init__(
        self,
        model: detoxify.Detoxify,
        *,
        model_id: str,
        threads: int,
        window_overlap: int = DEFAULT_WINDOW_OVERLAP,
        checkpoint_sha256: str | None = None,
    ) -> None:
        import tokenizers
        import torch

        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
        self.model_id = model_id
        self.checkpoint_sha256 = checkpoint_sha256
        """The whole sha256 of the checkpoint file (the model id keeps 12 digits of it); for exports."""
        self.categories: tuple[str, ...] = tuple(model.class_names)
        self.threads = threads
        self._model = model.model.eval()
        self._tokenizer = model.tokenizer
        self.max_length = _max_length(self._model.config, self._tokenizer)
        """The most tokens (special tokens included) one model call sees; longer texts are scored in windows."""
        backend = getattr(self._tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ValueError(f"{type(self._tokenizer).__name__} is not a fast tokenizer (no tokenizer.json?)")
        # A copy: Hugging Face sets truncation and padding on the shared Rust tokenizer per call.
        self.windows = TokenWindows(
            tokenizers.Tokenizer.from_str(backend.to_str()),
            max_length=self.max_length,
            overlap=window_overlap,
            pad_id=self._tokenizer.pad_token_id or 0,
            token_type_ids="token_type_ids" in self._tokenizer.model_input_names,
        )

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        import torch

        if not texts:
            return []
        # Cheap insurance that the count set at load holds in the worker thread that scores, too.
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        return self.windows.score(texts, self._run, self.categories)

    def _run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            tensors = {name: torch.from_numpy(array).to(self._model.device) for name, array in inputs.items()}
            logits = self._model(**tensors)[0]
            return logits.float().cpu().numpy()

    def check(self) -> None:
        """Raise if the model loaded but cannot score, so it fails at startup rather than on every request."""
        vocabulary = len(self._tokenizer)
        rows = getattr(self._model.config, "vocab_size", None)
        # transformers 5 builds a BERT tokenizer from no vocabulary file at all (five special tokens, every
        # word [UNK]) instead of failing; a tokenizer much smaller than the embedding matrix belongs to
        # another model or lost its files. (Embeddings may have a few more rows than the tokenizer has
        # tokens, never fewer.)
        if rows is not None and not rows // 2 < vocabulary <= rows:
            raise ValueError(
                f"the tokenizer has {vocabulary} tokens for a model with {rows} token embeddings: its files "
                "are missing or belong to another model"
            )
        # One inference now: it proves the whole path works and keeps first-call costs off the first request.
        self.score(["load check"])


def load_scorer(
    model: str,
    model_path: Path | None,
    threads: int,
    device: str = "cpu",
    *,
    window_overlap: int = DEFAULT_WINDOW_OVERLAP,
) -> Scorer:
    """Load the toxicity scorer once (blocking; seconds to minutes), or raise `ModelLoadError`.

    `model == "none"` gives `NoModel` (the caller says so loudly); otherwise `model_path`, when given, wins
    over the model name. A folder holding an ONNX export's `manifest.json` (`moderation model export`) is
    run by ONNX Runtime; any other folder must hold a Detoxify checkpoint, run by PyTorch.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if model == NO_MODEL:
        return NoModel()
    if model_path is not None:
        folder = Path(model_path).expanduser()
        from service.moderation import onnx_backend

        if (folder / onnx_backend.MANIFEST_NAME).is_file():
            return onnx_backend.load_onnx_scorer(folder, threads, window_overlap=window_overlap)
        return _load_from_folder(folder, threads, device, window_overlap)
    return _load_named(model, threads, device, window_overlap)


def _load_named(model: str, threads: int, device: str, window_overlap: int) -> DetoxifyScorer:
    try:
        import torch.hub
        from detoxify.detoxify import MODEL_URLS, Detoxify
    except Exception as exc:
        raise ModelLoadError(model, f"cannot import torch/detoxify: {_describe(exc)}") from exc
    if model not in MODEL_URLS:
        valid = ", ".join(sorted(MODEL_URLS))
        raise ModelLoadError(model, f"not a Detoxify model name; valid names are {valid}")
    try:
        loaded = Detoxify(model_type=model, device=device)
        # Where torch.hub.load_state_dict_from_url (Detoxify's download path) keeps the file.
        file_name = Path(urllib.parse.urlparse(MODEL_URLS[model]).path).name
        digest = _sha256(Path(torch.hub.get_dir()) / "checkpoints" / file_name)
        scorer = _checked_scorer(loaded, model, digest, threads, window_overlap)
    except Exception as exc:
        raise ModelLoadError(model, _describe(exc)) from exc
    log.info(
        "toxicity model %s loaded (%d categories, device %s)", scorer.model_id, len(scorer.categories), device
    )
    return scorer


def _checked_scorer(
    loaded: detoxify.Detoxify, name: str, digest: str, threads: int, window_overlap: int
) -> DetoxifyScorer:
    """The scorer of a loaded Detoxify model, named by its checkpoint, proven able to score (`check`)."""
    scorer = DetoxifyScorer(
        loaded,
        model_id=_model_id(name, digest),
        threads=threads,
        window_overlap=window_overlap,
        checkpoint_sha256=digest,
    )
    scorer.check()
    return scorer


def _load_from_folder(folder: Path, threads: int, device: str, window_overlap: int) -> DetoxifyScorer:
    folder = folder.expanduser().resolve()
    label = folder.name or str(folder)
    if not folder.is_dir():
        cause = "the folder does not exist" if not folder.exists() else "the path is not a folder"
        raise ModelLoadError(label, cause, path=folder)
    checkpoints = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
    if not checkpoints:
        raise ModelLoadError(label, "the folder holds no .ckpt or .pt checkpoint file", path=folder)
    if len(checkpoints) > 1:
        names = ", ".join(p.name for p in checkpoints)
        raise ModelLoadError(
            label, f"the folder holds several checkpoint files ({names}); keep exactly one", path=folder
        )
    checkpoint = checkpoints[0]
    name = checkpoint.stem
    try:
        from detoxify import Detoxify

        digest = _sha256(checkpoint)
        loaded = Detoxify(checkpoint=_checkpoint_for_folder(checkpoint, folder), device=device)
        scorer = _checked_scorer(loaded, name, digest, threads, window_overlap)
    except Exception as exc:
        raise ModelLoadError(name, _describe(exc), path=folder) from exc
    log.info(
        "toxicity model %s loaded from %s (%d categories, device %s)",
        scorer.model_id,
        checkpoint,
        len(scorer.categories),
        device,
    )
    return scorer


def _checkpoint_for_folder(checkpoint: Path, folder: Path) -> io.BytesIO:
    """The checkpoint, re-serialised in memory with its `model_type` pointing at `folder`.

    Detoxify 0.5.4 calls `config_class.from_pretrained(model_type)` with the checkpoint's own `model_type`
    (a hub name such as `roberta-base` in the released checkpoints), which goes to the network. Pointing it
    at the local folder makes config and tokenizer come from the folder's files. Detoxify's own
    `huggingface_config_path` is deliberately not used: it builds the model from the folder's config.json
    as is, ignoring the checkpoint's `num_classes`, so a stock base-model config (2 labels) fails on the
    classifier's shape; with `model_type` set, `num_labels=num_classes` is applied.

    Loaded with `weights_only=True` first: a Detoxify checkpoint should be plain data and tensors, and then
    nothing but those is ever unpickled (Detoxify unpickles the bytes written here). A checkpoint holding
    other Python objects is still loaded the way Detoxify itself loads every checkpoint
    (`weights_only=False`, trusting the file), with a warning: we could not check the released checkpoints
    offline, and refusing them would break the offline sites this path exists for.
    """
    import torch

    try:
        loaded: Any = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        log.warning(
            "checkpoint %s holds more than tensors and plain data; loading it trusting the file, as Detoxify "
            "does (%s)",
            checkpoint,
            str(exc).splitlines()[0],
        )
        loaded = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if not isinstance(loaded, dict) or "config" not in loaded or "state_dict" not in loaded:
        raise ValueError(
            f"{checkpoint.name} is not a Detoxify checkpoint: it needs 'config' and 'state_dict'"
        )
    try:
        args = loaded["config"]["arch"]["args"]
        original = args["model_type"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{checkpoint.name} has no config.arch.args.model_type") from exc
    log.debug("checkpoint %s: model_type %r replaced by %s", checkpoint.name, original, folder)
    args["model_type"] = str(folder)
    buffer = io.BytesIO()
    torch.save(loaded, buffer)
    buffer.seek(0)
    return buffer


def _sha256(path: Path) -> str:
    with path.open("rb") as f:  # streamed: a checkpoint is hundreds of megabytes
        return hashlib.file_digest(f, "sha256").hexdigest()


def _model_id(name: str, digest: str) -> str:
    return f"{name}:{digest[:MODEL_ID_HASH_LENGTH]}"


def _max_length(config: Any, tokenizer: Any) -> int:
    # A tokenizer saved without model_max_length reports a huge sentinel; the position embeddings are the
    # real limit, and a text longer than them would make the model raise instead of being truncated.
    limit = int(tokenizer.model_max_length)
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        if getattr(config, "model_type", None) in _OFFSET_POSITION_MODELS:
            pad_token_id = getattr(config, "pad_token_id", None)
            positions -= (1 if pad_token_id is None else pad_token_id) + 1
        limit = min(limit, int(positions))
    return limit


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
