"""`moderation model export | pull | demo`: arguments, and what the commands print and leave behind.

`pull` needs the network (GitHub for the checkpoint, the Hugging Face hub for config and tokenizer), which
tests never use: what is tested here is validation and the message when the network is unreachable; the
folder `pull` writes is tested in test_pull.py, `export` itself in test_export.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service import cli
from service.model.demo import TINY_CHECKPOINT_NAME
from service.model.loader import load_scorer


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


def test_pull_refuses_an_unknown_name(tmp_path: Path, capsys, network_attempts):
    assert cli.main(["model", "pull", "unbiassed", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "'unbiassed' is not a Detoxify model name" in err and "unbiased" in err
    assert not (tmp_path / "m").exists() and network_attempts == []


def test_pull_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys, network_attempts):
    (tmp_path / "other.txt").write_text("x")
    assert cli.main(["model", "pull", "original", str(tmp_path)]) == 1
    assert "not an empty folder" in capsys.readouterr().err
    assert network_attempts == []


def test_pull_without_network_says_so_and_leaves_nothing(tmp_path: Path, capsys, network_attempts):
    target = tmp_path / "models" / "original"
    assert cli.main(["model", "pull", "original", str(target)]) == 1
    err = capsys.readouterr().err
    assert "cannot download https://" in err and "needs network access" in err
    assert network_attempts, "the download was never attempted"
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # the temporary folder is gone too


def test_demo_writes_a_model_the_service_loads_and_says_how_to_run_it(tmp_path: Path, capsys) -> None:
    target = tmp_path / "demo"
    assert cli.main(["model", "demo", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"demo model written to {target}" in out
    assert f"MODERATION_MODEL_PATH={target} make run" in out
    assert (target / TINY_CHECKPOINT_NAME).is_file()
    # The demo's low output bias: every category near 0.02, whatever the text.
    [scores] = load_scorer("unbiased", target, threads=1).score(["You are an idiot."])
    assert all(p < 0.1 for p in scores.values())
