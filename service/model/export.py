"""Turn a Detoxify checkpoint into an ONNX Runtime folder (`moderation model export SRC DST [--int8]`).

Steps, each chosen by measurement on a bert-base checkpoint (see tests/benchmarks/bench_inference.py):

1. load the checkpoint the way the service does (`load_scorer`: a Detoxify name, or a local folder);
2. `torch.onnx.export` with torch's default (dynamo) exporter, dynamic batch and sequence axes. The model is
   switched to eager attention first: PyTorch's SDPA attention exports to a graph ONNX Runtime's
   transformer optimizer cannot fuse;
3. optionally (`optimize=True`, the default) `onnxruntime.transformers.optimizer` fuses BERT's Gelu and
   skip-layer-norm patterns;
4. optionally (`int8=True`) `onnxruntime.quantization.quantize_dynamic`: int8 weights, activations
   quantized per call — about 4x smaller and several times faster on CPUs with VNNI/AVX2;
5. a parity check: the export scores probe texts (short, and long enough to need windows) and its largest
   difference to PyTorch fp32 must stay within `max_diff`, else the export fails;
6. the folder is written under a temporary name and renamed, so DST is complete or absent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.model import onnx as onnx_backend
from service.model.detoxify import DetoxifyScorer
from service.model.loader import load_scorer

log = logging.getLogger(__name__)

DEFAULT_MAX_DIFF = 0.02
"""The largest score difference to PyTorch fp32 an export may show on the probe texts (issue 4's bound)."""

PROBE_TEXTS = (
    "Thanks for the thoughtful article, I learned a lot about the new bridge project.",
    "You are an idiot and everyone who reads this rubbish is an idiot too.",
    "I will find where you live and make you regret writing this.",
    "Nobody asked for your opinion, loser.",
    "The council meeting on Tuesday ran late because of the parking debate. " * 60,  # several windows
)

# bert, roberta, xlm-roberta, distilbert and albert all share the optimizer's BERT fusion patterns.
_OPTIMIZER_MODEL_TYPE = "bert"


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    manifest: dict[str, Any]


class ExportError(Exception):
    """The export could not be made or failed its parity check; `str()` says why."""


def export_onnx(
    source: str | Path,
    destination: Path,
    *,
    int8: bool = False,
    optimize: bool = True,
    threads: int = 1,
    max_diff: float = DEFAULT_MAX_DIFF,
) -> ExportResult:
    """Export `source` (a Detoxify model name or a checkpoint folder) into the new folder `destination`."""
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise ExportError(f"{destination} exists and is not empty; choose a new folder")
    source_folder = Path(source) if Path(source).is_dir() else None
    reference = load_scorer("unbiased" if source_folder else str(source), source_folder, threads=threads)
    if not isinstance(reference, DetoxifyScorer):
        raise ExportError(f"{source} is not a Detoxify checkpoint (an ONNX folder cannot be exported again)")

    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        inputs = _export_graph(reference, work / "exported.onnx")
        current = work / "exported.onnx"
        fused: dict[str, int] = {}
        if optimize:
            current, fused = _optimize(reference, current, work / "optimized.onnx")
        if int8:
            current = _quantize(current, work / "quantized.onnx")
        os.replace(current, work / onnx_backend.MODEL_NAME)
        for leftover in ("exported.onnx", "optimized.onnx", "quantized.onnx"):
            (work / leftover).unlink(missing_ok=True)
        reference.save_config_and_tokenizer(work)
        if not (work / onnx_backend.TOKENIZER_NAME).is_file():
            raise ExportError("the checkpoint's tokenizer has no fast (tokenizer.json) form")
        manifest = _manifest(reference, inputs=inputs, int8=int8, optimized=optimize, fused=fused)
        _write_manifest(work, manifest)
        exported = onnx_backend.load_onnx_scorer(work, threads)
        manifest["parity"] = _parity(reference, exported, max_diff)
        _write_manifest(work, manifest)
        if destination.exists():
            destination.rmdir()  # empty, checked above
        os.replace(work, destination)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("exported %s to %s as %s", reference.model_id, destination, manifest["model_id"])
    return ExportResult(destination, manifest)


def onnx_model_id(source_model_id: str, *, int8: bool, optimized: bool) -> str:
    """`<source id>+onnx[-opt][-int8]`: differs from the source's, and between exports that score differently."""
    return f"{source_model_id}+onnx{'-opt' if optimized else ''}{'-int8' if int8 else ''}"


def _export_graph(reference: DetoxifyScorer, path: Path) -> list[str]:
    import torch

    model = reference.model
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if reference.windows.token_type_ids else [])

    class Logits(torch.nn.Module):
        """The classifier's logits as the graph's one output (Hugging Face returns a dict-like object)."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            logits: torch.Tensor = self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra)[0]
            return logits

    # Two texts of different lengths, so neither axis is taken for a constant.
    windows, _owners = reference.windows.encode(["a short probe", "a longer probe text for the export trace"])
    example = tuple(torch.from_numpy(a) for a in reference.windows.inputs(windows).values())
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", max=reference.max_length)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # Both axes share one constraint per input; the exporter says so once per input, to nobody's use.
        warnings.filterwarnings("ignore", message=".*axis name.*")
        torch.onnx.export(
            Logits(model).eval(),
            example,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return names


def _optimize(reference: DetoxifyScorer, source: Path, target: Path) -> tuple[Path, dict[str, int]]:
    from onnxruntime.transformers.optimizer import optimize_model

    config = reference.model.config
    try:
        optimized = optimize_model(
            str(source),
            model_type=_OPTIMIZER_MODEL_TYPE,
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,  # the graph fusions only; ORT's own optimizations run at session start
        )
        optimized.save_model_to_file(str(target))
    except Exception as exc:  # an architecture the optimizer does not know: the unfused graph still works
        log.warning("transformer graph fusion failed, keeping the unfused graph: %s", exc)
        return source, {}
    fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    log.info("fused operators: %s", fused or "none")
    return target, fused


def _quantize(source: Path, target: Path) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        # Fused contrib ops (BiasGelu, SkipLayerNormalization) defeat ONNX shape inference; their outputs
        # are float, which is what the quantizer needs to know.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return target


def _manifest(
    reference: DetoxifyScorer, *, inputs: list[str], int8: bool, optimized: bool, fused: dict[str, int]
) -> dict[str, Any]:
    import onnx
    import onnxruntime
    import torch
    import transformers

    name = reference.model_id.split(":", 1)[0]
    return {
        "format": onnx_backend.FORMAT,
        "format_version": onnx_backend.FORMAT_VERSION,
        "model_id": onnx_model_id(reference.model_id, int8=int8, optimized=optimized),
        "source": {"name": name, "model_id": reference.model_id, "sha256": reference.checkpoint_sha256},
        "categories": list(reference.categories),
        "max_length": reference.max_length,
        "pad_id": reference.windows.pad_id,
        "inputs": inputs,
        "quantization": "int8-dynamic" if int8 else "none",
        "optimized": optimized,
        "fused_operators": fused,
        "exporter": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "opset": _opset(),
        },
    }


def _opset() -> int | None:
    try:
        import torch.onnx._constants as constants

        return int(constants.ONNX_DEFAULT_OPSET)
    except (ImportError, AttributeError):
        return None


def _parity(
    reference: DetoxifyScorer, exported: onnx_backend.OnnxScorer, max_diff: float
) -> dict[str, float]:
    expected = reference.score(PROBE_TEXTS)
    got = exported.score(PROBE_TEXTS)
    diff = max(abs(e[c] - g[c]) for e, g in zip(expected, got, strict=True) for c in reference.categories)
    if diff > max_diff:
        raise ExportError(
            f"the export's scores differ from PyTorch's by up to {diff:.4f} on the probe texts (allowed "
            f"{max_diff}); try without --int8, or with --no-optimize"
        )
    return {"texts": len(PROBE_TEXTS), "max_abs_diff": round(diff, 6), "allowed": max_diff}


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / onnx_backend.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
