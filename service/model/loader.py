"""Loading the toxicity model named by Settings: a Detoxify name, a local checkpoint folder, an ONNX export.

`load_scorer` runs once, in the app's lifespan; `Scorer.score` is blocking and is called from one worker
thread (the micro-batcher's), never on the event loop. Three ways to get a scorer:

- a Detoxify model name (`original`, `unbiased`, `multilingual`, `original-small`, `unbiased-small`):
  Detoxify's own download path, cached by torch hub (checkpoint) and Hugging Face (config, tokenizer);
- `model_path`, a local folder holding exactly one Detoxify checkpoint (`*.ckpt` or `*.pt`, a dict with
  `config` and `state_dict`) plus the Hugging Face `config.json` and tokenizer files of its base model:
  the way an offline site runs it (see `_checkpoint_for_folder` for how it stays offline);
- `model_path`, a folder written by `moderation model export` (a `manifest.json` next to `model.onnx`):
  the same model run by ONNX Runtime (service/model/onnx.py);
- `none`: `NoModel`, the word list alone.

Texts longer than the model's token limit are scored in overlapping windows, each category taking its
maximum over the windows (service/model/windows.py), by both backends.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.model import onnx
from service.model.base import NO_MODEL, ModelLoadError, NoModel, Scorer
from service.model.detoxify import DetoxifyScorer
from service.model.windows import DEFAULT_WINDOW_OVERLAP

if TYPE_CHECKING:  # torch and detoxify are imported when a model is loaded, not with this module
    import detoxify

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".ckpt", ".pt")
MODEL_ID_HASH_LENGTH = 12


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
        if (folder / onnx.MANIFEST_NAME).is_file():
            return onnx.load_onnx_scorer(folder, threads, window_overlap=window_overlap)
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


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
