"""`moderation check`, run in-process through the `moderation` command's own entry point."""

import io
import json
import pathlib

import pytest

from service.cli import main


def test_cli_check(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["check", "f.u.c.k you"]) == 0
    one = capsys.readouterr().out
    assert "'f.u.c.k'" in one and "separated" in one and "reject" in one
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nsh!t\n"))
    assert main(["check", "-"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [len(x["matches"]) for x in lines] == [0, 1]
    assert lines[1]["matches"][0]["evidence"] == ["leet"]


def test_cli_check_says_why_a_rules_folder_cannot_be_read(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--rules", str(tmp_path), "hello"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("moderation check: ") and "does not exist" in err
