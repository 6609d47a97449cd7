"""The ONNX Runtime backend: a folder written by `moderation model export`, loaded and scored without PyTorch.

No test may reach the network (`no_network`, tests/model/conftest.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.model.base import ModelLoadError
from service.model.export import export_onnx
from service.model.loader import load_scorer
from service.model.onnx import FORMAT, FORMAT_VERSION, MANIFEST_NAME, OnnxScorer, read_manifest

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(scope="module")
def fp32_folder(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tiny_folder, tmp_path_factory.mktemp("exports") / "tiny-onnx").folder


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


def test_the_export_loads_as_an_onnx_scorer_with_its_manifest(fp32_folder: Path) -> None:
    manifest = read_manifest(fp32_folder)
    assert (manifest["format"], manifest["format_version"]) == (FORMAT, FORMAT_VERSION)

    scorer = load_scorer("unbiased", fp32_folder, threads=1)

    assert isinstance(scorer, OnnxScorer)
    assert scorer.model_id == manifest["model_id"]
    assert list(scorer.categories) == manifest["categories"]
    assert scorer.max_length == manifest["max_length"] == scorer.windows.max_length
    assert scorer.score([]) == []
    [scores] = scorer.score(["You are an idiot."])
    assert set(scores) == set(scorer.categories) and all(0.0 <= p <= 1.0 for p in scores.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"format": "something-else"}, "is not a moderation-onnx manifest", id="format"),
        pytest.param({"format_version": 99}, "format_version 99", id="version"),
        pytest.param({"max_length": None}, "has no 'max_length'", id="missing-key"),
    ],
)
def test_a_manifest_this_service_cannot_read_is_refused(
    fp32_folder: Path, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    manifest = {**json.loads((fp32_folder / MANIFEST_NAME).read_text()), **change}
    manifest = {key: value for key, value in manifest.items() if value is not None}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=message):
        read_manifest(tmp_path)
