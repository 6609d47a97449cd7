"""`load_scorer`: which scorer a setting gives, its model id, offline folders, and every failure's message.

No test may reach the network (`no_network`, tests/model/conftest.py): a test that silently fell back to
the network would fail, or leave a trace that the test checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from service.model.base import ModelLoadError, NoModel
from service.model.demo import TINY_CHECKPOINT_NAME, UNBIASED_CLASSES, build_tiny_checkpoint
from service.model.detoxify import DetoxifyScorer
from service.model.loader import load_scorer

pytestmark = pytest.mark.usefixtures("no_network")

TEXTS = [
    "Thanks for the thoughtful article about the bridge.",
    "You are an idiot and this rubbish is pathetic.",
    "The council meeting on Tuesday ran late.",
]


def _copy(folder: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(folder, tmp_path / name))


def _sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _rewrite_checkpoint(path: Path, **arch_args: object) -> None:
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["config"]["arch"]["args"].update(arch_args)
    torch.save(checkpoint, path)


# --- loading ------------------------------------------------------------------------------------------


def test_loads_the_tiny_checkpoint_from_its_folder(tiny_folder: Path, no_network: list[str]) -> None:
    attempts_before = len(no_network)

    scorer = load_scorer("unbiased", tiny_folder, threads=1)

    assert isinstance(scorer, DetoxifyScorer)
    assert scorer.categories == UNBIASED_CLASSES
    assert scorer.model_id == f"tiny:{_sha12(tiny_folder / TINY_CHECKPOINT_NAME)}"
    assert len(no_network) == attempts_before


# --- model identity -----------------------------------------------------------------------------------


def test_model_id_follows_the_checkpoint_bytes(tmp_path: Path) -> None:
    folder = build_tiny_checkpoint(tmp_path / "tiny", seed=0)
    first = load_scorer("unbiased", folder, threads=1).model_id
    assert load_scorer("unbiased", folder, threads=1).model_id == first  # same bytes, same id

    build_tiny_checkpoint(folder, seed=1)  # same folder and file name, other weights
    second = load_scorer("unbiased", folder, threads=1).model_id

    assert first.startswith("tiny:") and second.startswith("tiny:")
    assert second != first
    assert second == f"tiny:{_sha12(folder / TINY_CHECKPOINT_NAME)}"


def test_the_builder_is_deterministic(tmp_path: Path) -> None:
    a = build_tiny_checkpoint(tmp_path / "m", seed=3)
    first = {p.name: p.read_bytes() for p in a.iterdir()}
    build_tiny_checkpoint(tmp_path / "m", seed=3)
    assert {p.name: p.read_bytes() for p in a.iterdir()} == first


# --- offline sites ------------------------------------------------------------------------------------


def test_a_checkpoint_naming_a_hub_model_loads_offline_from_the_folder(
    tiny_folder: Path, tmp_path: Path, no_network: list[str]
) -> None:
    import detoxify

    folder = _copy(tiny_folder, tmp_path)
    checkpoint = folder / TINY_CHECKPOINT_NAME
    _rewrite_checkpoint(checkpoint, model_type="bert-base-uncased")  # as the released checkpoints do
    # Detoxify alone goes to the hub for "bert-base-uncased", even with the local config path...
    with pytest.raises(OSError, match=r"huggingface\.co"):
        detoxify.Detoxify(checkpoint=str(checkpoint), huggingface_config_path=str(folder))
    attempts_before = len(no_network)

    scorer = load_scorer("unbiased", folder, threads=1)  # ...the loader points it at the folder

    assert scorer.model_id == f"tiny:{_sha12(checkpoint)}"
    assert len(scorer.score(TEXTS)) == 3
    assert len(no_network) == attempts_before  # and nothing tried the network


def test_a_stock_base_model_config_without_labels_loads(tiny_folder: Path, tmp_path: Path) -> None:
    # An offline site copies the base model's config.json as published: no id2label, so 2 labels by
    # default. The checkpoint's num_classes must win (Detoxify's huggingface_config_path would not let it).
    folder = _copy(tiny_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    del config["id2label"], config["label2id"]
    (folder / "config.json").write_text(json.dumps(config))

    scorer = load_scorer("unbiased", folder, threads=1)

    assert scorer.categories == UNBIASED_CLASSES
    assert all(len(row) == len(UNBIASED_CLASSES) for row in scorer.score(TEXTS))


def test_a_named_model_is_loaded_from_the_torch_hub_cache_and_hashed(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub_dir = Path(torch.hub.get_dir())
    assert tmp_path in hub_dir.parents  # not the machine's real cache
    cached = hub_dir / "checkpoints" / "toxic_debiased-c7548aa0.ckpt"  # the file name in Detoxify's URL
    cached.parent.mkdir(parents=True)
    shutil.copyfile(tiny_folder / TINY_CHECKPOINT_NAME, cached)

    scorer = load_scorer("unbiased", None, threads=1)

    assert scorer.model_id == f"unbiased:{_sha12(cached)}"
    assert scorer.categories == UNBIASED_CLASSES


# --- failures -----------------------------------------------------------------------------------------


def _assert_load_error(error: ModelLoadError, model: str) -> None:
    message = str(error)
    assert repr(model) in message
    assert "MODERATION_MODEL_PATH" in message
    assert "MODERATION_MODEL=none" in message
    assert "network" in message


def test_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("unbiased", tmp_path / "nowhere", threads=1)
    _assert_load_error(caught.value, "nowhere")
    assert "does not exist" in str(caught.value)


def test_a_folder_without_checkpoint(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path, "empty")
    (folder / TINY_CHECKPOINT_NAME).unlink()
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("unbiased", folder, threads=1)
    _assert_load_error(caught.value, "empty")
    assert "no .ckpt or .pt" in str(caught.value)


def test_a_folder_with_two_checkpoints(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path, "two")
    shutil.copyfile(folder / TINY_CHECKPOINT_NAME, folder / "other.pt")
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("unbiased", folder, threads=1)
    _assert_load_error(caught.value, "two")
    assert "other.pt" in str(caught.value) and TINY_CHECKPOINT_NAME in str(caught.value)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(b"not a checkpoint at all"), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:5000]), id="truncated"),
        pytest.param(lambda p: torch.save({"state_dict": {}}, p), id="no-config"),
    ],
)
def test_a_corrupt_checkpoint(tiny_folder: Path, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    folder = _copy(tiny_folder, tmp_path)
    damage(folder / TINY_CHECKPOINT_NAME)
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("unbiased", folder, threads=1)
    _assert_load_error(caught.value, "tiny")
    assert caught.value.__cause__ is not None


def test_missing_tokenizer_files(tiny_folder: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_folder, tmp_path)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    # transformers 5 would build a tokenizer of five special tokens here, turning every word into [UNK].
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("unbiased", folder, threads=1)
    _assert_load_error(caught.value, "tiny")
    assert "tokenizer" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_an_unknown_model_name_lists_the_valid_ones() -> None:
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("unbiassed", None, threads=1)
    _assert_load_error(caught.value, "unbiassed")
    for name in ("original", "unbiased", "multilingual", "original-small", "unbiased-small"):
        assert name in str(caught.value)


def test_a_named_model_without_cache_or_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache
    attempts_before = len(no_network)
    with pytest.raises(ModelLoadError) as caught:
        load_scorer("original", None, threads=1)
    _assert_load_error(caught.value, "original")
    assert caught.value.__cause__ is not None
    assert len(no_network) > attempts_before  # it did try to download, and was refused


# --- no model -----------------------------------------------------------------------------------------


def test_none_runs_without_a_model(tiny_folder: Path) -> None:
    for path in (None, tiny_folder):  # `none` wins over a path
        scorer = load_scorer("none", path, threads=1)
        assert isinstance(scorer, NoModel)
        assert scorer.model_id == "none"
        assert scorer.categories == ()
        with pytest.raises(RuntimeError):
            scorer.score(TEXTS)
