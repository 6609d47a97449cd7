"""`moderation model export SRC DST [--int8] [--no-optimize]`, `moderation model pull NAME DIR` and
`moderation model demo DIR`.

- `export` turns a Detoxify checkpoint (a model name, or a local folder as MODERATION_MODEL_PATH takes) into
  an ONNX Runtime folder: `model.onnx`, the tokenizer files and `manifest.json` (see
  service/model/export.py). Point MODERATION_MODEL_PATH at DST to serve it.
- `pull`, on a machine with network, downloads a Detoxify model into DIR: the checkpoint (Detoxify's release
  URL, through torch hub) plus the Hugging Face config and tokenizer files of its base model, so DIR works
  offline as MODERATION_MODEL_PATH and can be baked into an image.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="pull a Detoxify model, or export one to ONNX Runtime")
    commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    export = commands.add_parser("export", help="export a Detoxify checkpoint to an ONNX Runtime folder")
    export.add_argument("src", metavar="SRC", help="a Detoxify model name, or a local checkpoint folder")
    export.add_argument("dst", metavar="DST", type=Path, help="the folder to write (new or empty)")
    export.add_argument("--int8", action="store_true", help="quantize weights to int8 (dynamic quantization)")
    export.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="skip ONNX Runtime's transformer graph fusions",
    )
    export.add_argument("--threads", type=int, default=0, help="threads for the export (default: all cores)")
    export.add_argument(
        "--max-diff",
        type=float,
        default=None,
        help="largest score difference to PyTorch allowed on the probe texts (default: 0.02)",
    )
    export.set_defaults(func=_export)

    pull = commands.add_parser("pull", help="download a Detoxify model into a folder for offline use")
    pull.add_argument("name", metavar="NAME", help="a Detoxify model name, e.g. original, unbiased")
    pull.add_argument("dir", metavar="DIR", type=Path, help="the folder to write (new or empty)")
    pull.set_defaults(func=_pull)

    demo = commands.add_parser(
        "demo", help="write the DEMO model (tiny, random: not a toxicity classifier) for trying the service"
    )
    demo.add_argument("dir", metavar="DIR", type=Path, help="the folder to write")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from service.model.demo import build_demo_model

    folder = build_demo_model(args.dir.resolve())
    print(f"demo model written to {folder}\nrun it with: MODERATION_MODEL_PATH={folder} make run")
    return 0


def _export(args: argparse.Namespace) -> int:
    import logging
    import os

    from service.model.base import ModelLoadError
    from service.model.export import DEFAULT_MAX_DIFF, ExportError, export_onnx

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    threads = args.threads or os.cpu_count() or 1
    try:
        result = export_onnx(
            args.src,
            args.dst,
            int8=args.int8,
            optimize=args.optimize,
            threads=threads,
            max_diff=DEFAULT_MAX_DIFF if args.max_diff is None else args.max_diff,
        )
    except (ExportError, ModelLoadError) as exc:
        print(f"moderation model export: {exc}", file=sys.stderr)
        return 1
    manifest = result.manifest
    print(
        f"exported {manifest['source']['model_id']} to {result.folder} as {manifest['model_id']} "
        f"(quantization {manifest['quantization']}, largest score difference to PyTorch "
        f"{manifest['parity']['max_abs_diff']})\n"
        f"serve it with MODERATION_MODEL_PATH={result.folder}"
    )
    return 0


class PullError(Exception):
    pass


def _pull(args: argparse.Namespace) -> int:
    try:
        folder = pull_model(args.name, args.dir)
    except PullError as exc:
        print(f"moderation model pull: {exc}", file=sys.stderr)
        return 1
    print(f"pulled {args.name} into {folder}\nserve it offline with MODERATION_MODEL_PATH={folder}")
    return 0


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

    loaded: Any = torch.load(checkpoint, map_location="cpu", weights_only=False)
    try:
        args = loaded["config"]["arch"]["args"]
        model_type, num_classes = args["model_type"], int(args["num_classes"])
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
    from service.model.base import ModelLoadError
    from service.model.loader import load_scorer

    try:
        load_scorer("unbiased", folder, threads=1)
    except ModelLoadError as exc:
        raise PullError(f"the pulled files do not load: {exc}") from exc
