"""`moderation model pull NAME DIR`: a Detoxify model downloaded into a folder that then works offline.

On a machine with network, DIR receives the checkpoint (Detoxify's release URL, through torch hub) and the
Hugging Face config and tokenizer files of its base model, so it can serve as MODERATION_MODEL_PATH where
there is no network, or be baked into an image. DIR is written whole or not at all, and only once the
loader has loaded it offline.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from service.model.base import ModelLoadError
from service.model.loader import load_scorer


class PullError(Exception):
    """The model could not be pulled; `str()` says why (and what to do about a missing network)."""


def pull_model(name: str, folder: Path) -> Path:
    """Download Detoxify model `name` into `folder` (written whole or not at all), then check it loads offline."""
    from detoxify.detoxify import MODEL_URLS

    if name not in MODEL_URLS:
        raise PullError(
            f"{name!r} is not a Detoxify model name; valid names are {', '.join(sorted(MODEL_URLS))}"
        )
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise PullError(f"{folder} exists and is not an empty folder; choose a new one")
    url = MODEL_URLS[name]
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        checkpoint = _download_checkpoint(url, work)
        complete_folder(work, checkpoint, hub_source=None)
        _check_loads(work)
        if folder.exists():
            folder.rmdir()
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder


def _download_checkpoint(url: str, folder: Path) -> Path:
    import torch.hub

    file_name = Path(urllib.parse.urlparse(url).path).name
    try:
        # The checkpoint lands in `folder` under its release name (the name is part of the model id).
        torch.hub.load_state_dict_from_url(
            url,
            model_dir=str(folder),
            map_location="cpu",
            file_name=file_name,
            progress=True,
            weights_only=False,
        )
    except OSError as exc:  # URLError, socket errors, DNS failures are all OSErrors
        raise PullError(
            f"cannot download {url}: {exc}. `pull` needs network access to github.com and huggingface.co; "
            "run it where there is network and copy the folder to the offline machine"
        ) from exc
    return folder / file_name


def complete_folder(folder: Path, checkpoint: Path, *, hub_source: str | Path | None) -> None:
    """Write the Hugging Face config and tokenizer files the checkpoint's model needs next to it.

    `hub_source` is where those files come from: `None` means the checkpoint's own `model_type` (a Hugging
    Face hub name such as `bert-base-uncased`, which needs network); a local folder works offline.
    """
    import torch
    import transformers

    # A pickle of nested dicts (Detoxify's format): its shape is checked below, not known to the type checker.
    loaded: Any = torch.load(checkpoint, map_location="cpu", weights_only=False)
    try:
        args = loaded["config"]["arch"]["args"]
        model_type: str = args["model_type"]
        num_classes = int(args["num_classes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PullError(f"{checkpoint.name} is not a Detoxify checkpoint (no config.arch.args)") from exc
    source = str(hub_source) if hub_source is not None else model_type
    try:
        config = transformers.AutoConfig.from_pretrained(source, num_labels=num_classes)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise PullError(
            f"cannot get the config and tokenizer of {source!r}: {exc}. Without network, `pull` cannot "
            "fetch them from the Hugging Face hub"
        ) from exc
    config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _check_loads(folder: Path) -> None:
    try:
        load_scorer("unbiased", folder, threads=1)
    except ModelLoadError as exc:
        raise PullError(f"the pulled files do not load: {exc}") from exc
