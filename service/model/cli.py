"""`moderation model export SRC DST [--int8] [--no-optimize]`, `moderation model pull NAME DIR` and
`moderation model demo DIR`: arguments and what is printed; the work is done elsewhere.

- `export` turns a Detoxify checkpoint (a model name, or a local folder as MODERATION_MODEL_PATH takes) into
  an ONNX Runtime folder: `model.onnx`, the tokenizer files and `manifest.json` (service/model/export.py).
  Point MODERATION_MODEL_PATH at DST to serve it.
- `pull`, on a machine with network, downloads a Detoxify model into DIR so that DIR works offline as
  MODERATION_MODEL_PATH (service/model/pull.py).
- `demo` writes the tiny random DEMO model (service/model/demo.py).

Every `moderation` command registers its parser on start, `--help` included, so this module and the ones it
imports at the top keep torch, transformers, detoxify and ONNX imports inside the functions that use them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from service.model.base import ModelLoadError
from service.model.export import DEFAULT_MAX_DIFF, ExportError, export_onnx
from service.model.pull import PullError, pull_model


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    # Imported here: demo.py builds checkpoints with torch and transformers, imported with the module.
    from service.model.demo import build_demo_model

    folder = build_demo_model(args.dir.resolve())
    print(f"demo model written to {folder}\nrun it with: MODERATION_MODEL_PATH={folder} make run")
    return 0


def _export(args: argparse.Namespace) -> int:
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


def _pull(args: argparse.Namespace) -> int:
    try:
        folder = pull_model(args.name, args.dir)
    except PullError as exc:
        print(f"moderation model pull: {exc}", file=sys.stderr)
        return 1
    print(f"pulled {args.name} into {folder}\nserve it offline with MODERATION_MODEL_PATH={folder}")
    return 0
