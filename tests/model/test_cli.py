"""`moderation model pull` and `moderation model export`: arguments, offline failures, the pulled layout.

`pull` needs the network (GitHub for the checkpoint, the Hugging Face hub for config and tokenizer), which
tests never use: what is tested is validation, the message when the network is unreachable, and the folder
layout `pull` writes, built here from a local source.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import cli
from service.model.cli import complete_folder
from service.model.demo import TINY_CHECKPOINT_NAME, build_tiny_checkpoint
from service.model.loader import load_scorer


@pytest.fixture
def no_network() -> Iterator[list[str]]:
    attempts: list[str] = []

    def refused(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:2]))
        raise OSError("network disabled in tests")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refused)
        mp.setattr(socket, "getaddrinfo", refused)
        yield attempts


def test_model_needs_an_action(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["model"])
    assert exited.value.code == 2
    assert "ACTION" in capsys.readouterr().err


def test_export_needs_source_and_destination(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["model", "export", "original"])
    assert exited.value.code == 2
    assert "DST" in capsys.readouterr().err


def test_pull_refuses_an_unknown_name(tmp_path: Path, capsys, no_network):
    assert cli.main(["model", "pull", "unbiassed", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "'unbiassed' is not a Detoxify model name" in err and "unbiased" in err
    assert not (tmp_path / "m").exists() and no_network == []


def test_pull_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys, no_network):
    (tmp_path / "other.txt").write_text("x")
    assert cli.main(["model", "pull", "original", str(tmp_path)]) == 1
    assert "not an empty folder" in capsys.readouterr().err
    assert no_network == []


def test_pull_without_network_says_so_and_leaves_nothing(tmp_path: Path, capsys, no_network):
    target = tmp_path / "models" / "original"
    assert cli.main(["model", "pull", "original", str(target)]) == 1
    err = capsys.readouterr().err
    assert "cannot download https://" in err and "needs network access" in err
    assert no_network, "the download was never attempted"
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # the temporary folder is gone too


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
