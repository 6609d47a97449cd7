"""`moderation model export` of the tiny checkpoint, and the ONNX Runtime backend it feeds."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import cli
from service.model.base import ModelLoadError
from service.model.demo import TINY_CHECKPOINT_NAME, UNBIASED_CLASSES
from service.model.detoxify import DetoxifyScorer
from service.model.export import ExportError, export_onnx
from service.model.loader import load_scorer
from service.model.onnx import MANIFEST_NAME, OnnxScorer

TEXTS = [
    "Thanks for the thoughtful article about the bridge.",
    "You are an idiot and this rubbish is pathetic.",
    "Shut up, nobody cares what you think about the football club.",
    "The council meeting on Tuesday ran late. " * 40,  # longer than the tiny model's 64 tokens: windows
]


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[None]:
    def refused(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in tests")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refused)
        mp.setattr(socket, "getaddrinfo", refused)
        yield


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


def test_onnx_scorer_uses_the_thread_count_it_is_given(fp32_folder: Path):
    scorer = load_scorer("unbiased", fp32_folder, threads=2)
    assert scorer.threads == 2  # type: ignore[attr-defined]
    assert scorer._session.get_session_options().intra_op_num_threads == 2  # type: ignore[attr-defined]


def test_a_broken_export_folder_fails_to_load_with_the_cause(fp32_folder: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    shutil.copytree(fp32_folder, broken)
    (broken / "model.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"no model\.onnx"):
        load_scorer("unbiased", broken, threads=1)
    manifest = json.loads((fp32_folder / MANIFEST_NAME).read_text())
    (broken / MANIFEST_NAME).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ModelLoadError, match="format_version"):
        load_scorer("unbiased", broken, threads=1)


def test_export_refuses_a_folder_that_is_not_empty(tiny_folder: Path, tmp_path: Path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ExportError, match="not empty"):
        export_onnx(tiny_folder, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_export_fails_when_parity_is_out_of_bounds(tiny_folder: Path, tmp_path: Path):
    destination = tmp_path / "strict"
    with pytest.raises(ExportError, match="differ from PyTorch"):
        export_onnx(tiny_folder, destination, int8=True, optimize=False, max_diff=1e-9)
    assert not destination.exists()  # nothing half-written is left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".strict")]
