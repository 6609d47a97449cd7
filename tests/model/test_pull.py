"""`pull_model` and the folder it writes: validated before any download, whole or absent, loadable offline.

The download itself needs the network, which tests never use; the folder layout is built here from a local
source, as `pull` builds it from the hub.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from service.model.demo import TINY_CHECKPOINT_NAME, build_tiny_checkpoint
from service.model.loader import load_scorer
from service.model.pull import PullError, complete_folder, pull_model


def test_pulled_layout_loads_offline(tmp_path: Path):
    source = build_tiny_checkpoint(tmp_path / "source")
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    checkpoint = pulled / TINY_CHECKPOINT_NAME
    shutil.copy(source / TINY_CHECKPOINT_NAME, checkpoint)
    # What `pull` does after the download, with the files coming from a local folder instead of the hub.
    complete_folder(pulled, checkpoint, hub_source=source)
    assert {"config.json", "tokenizer.json", "tokenizer_config.json"} <= {p.name for p in pulled.iterdir()}
    shutil.rmtree(source)  # the pulled folder must stand on its own
    scorer = load_scorer("unbiased", pulled, threads=1)
    assert scorer.model_id.startswith("tiny:")
    assert len(scorer.score(["You are an idiot."])) == 1


def test_a_file_that_is_not_a_detoxify_checkpoint_is_refused(tmp_path: Path):
    checkpoint = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, checkpoint)
    with pytest.raises(PullError, match=r"weights\.pt is not a Detoxify checkpoint"):
        complete_folder(tmp_path, checkpoint, hub_source=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["weights.pt"]


def test_config_and_tokenizer_that_cannot_be_had_say_so(tmp_path: Path, network_attempts: list[str]):
    source = build_tiny_checkpoint(tmp_path / "source")
    # A hub name in no local cache, with the hub offline: what an offline machine sees for a real one.
    with pytest.raises(PullError, match="cannot get the config and tokenizer of 'moderation-tests/absent'"):
        complete_folder(source, source / TINY_CHECKPOINT_NAME, hub_source="moderation-tests/absent")


@pytest.mark.parametrize(
    ("name", "message"),
    [("unbiassed", "'unbiassed' is not a Detoxify model name"), ("original", "not an empty folder")],
)
def test_pull_checks_its_arguments_before_any_download(
    tmp_path: Path, network_attempts: list[str], name: str, message: str
):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(PullError, match=message):
        pull_model(name, tmp_path)
    assert network_attempts == []
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_pull_without_network_leaves_nothing(tmp_path: Path, network_attempts: list[str]):
    target = tmp_path / "models" / "unbiased"
    with pytest.raises(PullError, match="needs network access") as caught:
        pull_model("unbiased", target)
    assert isinstance(caught.value.__cause__, OSError)
    assert network_attempts, "the download was never attempted"
    assert list((tmp_path / "models").iterdir()) == []
