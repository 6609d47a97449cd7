"""`moderation model export` of the tiny checkpoint: parity with PyTorch, the manifest, a folder written whole.

No test may reach the network (`no_network`, tests/model/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from service import cli
from service.model.demo import TINY_CHECKPOINT_NAME, UNBIASED_CLASSES
from service.model.detoxify import DetoxifyScorer
from service.model.export import ExportError, export_onnx, onnx_model_id
from service.model.loader import load_scorer
from service.model.onnx import MANIFEST_NAME, OnnxScorer

pytestmark = pytest.mark.usefixtures("no_network")

TEXTS = [
    "Thanks for the thoughtful article about the bridge.",
    "You are an idiot and this rubbish is pathetic.",
    "Shut up, nobody cares what you think about the football club.",
    "The council meeting on Tuesday ran late. " * 40,  # longer than the tiny model's 64 tokens: windows
]


@pytest.fixture(scope="module")
def fp32_folder(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("exports") / "tiny-onnx"
    # Through the command line, as an operator runs it.
    assert cli.main(["model", "export", str(tiny_folder), str(destination), "--threads", "1"]) == 0
    return destination


@pytest.fixture(scope="module")
def int8_folder(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("exports") / "tiny-onnx-int8"
    return export_onnx(tiny_folder, destination, int8=True).folder


@pytest.fixture(scope="module")
def reference(tiny_folder: Path) -> DetoxifyScorer:
    scorer = load_scorer("unbiased", tiny_folder, threads=1)
    assert isinstance(scorer, DetoxifyScorer)
    return scorer


def _largest_difference(a: list[dict[str, float]], b: list[dict[str, float]]) -> float:
    assert [sorted(x) for x in a] == [sorted(y) for y in b]
    return max(abs(x[c] - y[c]) for x, y in zip(a, b, strict=True) for c in x)


@pytest.mark.parametrize("kind", ["fp32", "int8"])
def test_export_scores_within_002_of_pytorch(kind: str, request: pytest.FixtureRequest, reference):
    folder: Path = request.getfixturevalue(f"{kind}_folder")
    scorer = load_scorer("unbiased", folder, threads=1)
    assert isinstance(scorer, OnnxScorer)
    assert scorer.categories == reference.categories == UNBIASED_CLASSES
    expected, got = reference.score(TEXTS), scorer.score(TEXTS)
    difference = _largest_difference(expected, got)
    assert difference <= 0.02
    if kind == "fp32":
        assert difference < 1e-4  # the same arithmetic, only reordered
    # Scores that differ between texts: the export did not collapse to a constant.
    assert len({round(s["insult"], 4) for s in got}) == len(TEXTS)


def test_manifest_names_the_source_and_a_distinct_model_id(fp32_folder: Path, int8_folder: Path, tiny_folder):
    digest = hashlib.sha256((tiny_folder / TINY_CHECKPOINT_NAME).read_bytes()).hexdigest()
    source_id = f"tiny:{digest[:12]}"
    fp32 = json.loads((fp32_folder / MANIFEST_NAME).read_text())
    int8 = json.loads((int8_folder / MANIFEST_NAME).read_text())
    for manifest in (fp32, int8):
        assert manifest["source"] == {"name": "tiny", "model_id": source_id, "sha256": digest}
        assert manifest["categories"] == list(UNBIASED_CLASSES)
        assert manifest["max_length"] == 64
        assert manifest["parity"]["max_abs_diff"] <= 0.02
        assert {"torch", "onnx", "onnxruntime"} <= set(manifest["exporter"])
    assert (fp32["quantization"], int8["quantization"]) == ("none", "int8-dynamic")
    ids = {source_id, fp32["model_id"], int8["model_id"]}
    assert len(ids) == 3  # cache keys never mix PyTorch, ONNX fp32 and int8 verdicts
    assert load_scorer("unbiased", int8_folder, threads=1).model_id == int8["model_id"]
    assert {p.name for p in fp32_folder.iterdir()} >= {"model.onnx", "tokenizer.json", MANIFEST_NAME}


def test_the_onnx_model_id_names_the_source_the_fusions_and_the_quantization() -> None:
    source = "tiny:3f2a9c81d0e4"
    assert onnx_model_id(source, int8=False, optimized=False) == "tiny:3f2a9c81d0e4+onnx"
    assert onnx_model_id(source, int8=False, optimized=True) == "tiny:3f2a9c81d0e4+onnx-opt"
    assert onnx_model_id(source, int8=True, optimized=True) == "tiny:3f2a9c81d0e4+onnx-opt-int8"
    assert onnx_model_id(source, int8=True, optimized=False) == "tiny:3f2a9c81d0e4+onnx-int8"


def test_export_refuses_a_folder_that_is_not_empty(tiny_folder: Path, tmp_path: Path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ExportError, match="not empty"):
        export_onnx(tiny_folder, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_an_export_cannot_be_exported_again(fp32_folder: Path, tmp_path: Path) -> None:
    destination = tmp_path / "again"
    with pytest.raises(ExportError, match="an ONNX folder cannot be exported again"):
        export_onnx(fp32_folder, destination)
    assert not destination.exists()


def test_export_fails_when_parity_is_out_of_bounds(tiny_folder: Path, tmp_path: Path):
    destination = tmp_path / "strict"
    with pytest.raises(ExportError, match="differ from PyTorch"):
        export_onnx(tiny_folder, destination, int8=True, optimize=False, max_diff=1e-9)
    assert not destination.exists()  # nothing half-written is left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".strict")]
