"""The `moderation rescore` command: its exit statuses and its help."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import cli
from service.config import get_settings
from service.rescore.errors import EXIT_CHANGED, EXIT_SAME, EXIT_USAGE
from tests.support.rescore import write_jsonl


def test_command_exit_statuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # The word list alone (no model to load): a listed obscenity is rejected whatever the previous verdict.
    monkeypatch.setenv("MODERATION_MODEL", "none")
    monkeypatch.setenv("MODERATION_LOG_LEVEL", "ERROR")
    get_settings.cache_clear()
    try:
        same = write_jsonl(tmp_path / "same.jsonl", [{"id": "1", "text": "fine words", "verdict": "accept"}])
        changed = write_jsonl(tmp_path / "changed.jsonl", [{"id": "1", "text": "shit", "verdict": "accept"}])
        assert cli.main(["rescore", str(same), "-o", str(tmp_path / "a.jsonl"), "--no-progress"]) == EXIT_SAME
        assert (
            cli.main(["rescore", str(changed), "-o", str(tmp_path / "b.jsonl"), "--no-progress"])
            == EXIT_CHANGED
        )
        assert "accept -> reject" in capsys.readouterr().err
        assert (
            cli.main(["rescore", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "c.jsonl")])
            == EXIT_USAGE
        )
        assert cli.main(["rescore", str(same), "--apply"]) == EXIT_USAGE
        assert "--apply goes with --from-log" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_help_documents_the_exit_statuses(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["rescore", "--help"])
    text = capsys.readouterr().out
    assert "exit status: 0 no verdict changed, 1 some verdict changed, 2 usage" in " ".join(text.split())
