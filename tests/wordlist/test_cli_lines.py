"""`moderation check -` writes its JSON lines by hand (issue 11: json.dumps cost more than the matching);
each must be the very line json.dumps wrote from the pydantic matches before."""

import io
import json

import pytest

from service.cli import main
from service.wordlist.matcher import WordList

TEXTS = [
    "",
    "hello there",
    "sh!t",
    "f.u.c.k you and fuuuck this",
    'she said "shit" \\ then left\ttabbed',
    "Ｆ𝐮сk ça, naïve café — “quoted” 😀",
    "a$$hole and b1tch, then bullshit!",
    "control \x01 and \x1f characters, fuck",
    "Scunthorpe assassin cocktail",
    "line separator \u2028 and paragraph \u2029 then twat",
]


def reference_line(wordlist: WordList, text: str) -> str:
    """The line as `moderation check -` wrote it through json.dumps and model_dump."""
    record = {
        "text": text,
        "wordlist_version": wordlist.version,
        "matches": [m.model_dump() for m in wordlist.find(text)],
    }
    return json.dumps(record, ensure_ascii=False)


def test_check_stdin_lines_are_json_dumps_lines(
    wordlist: WordList, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(t + "\n" for t in TEXTS)))
    assert main(["check", "-"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[-1] == ""  # every line ends in a newline
    assert lines[:-1] == [reference_line(wordlist, t) for t in TEXTS]
    # The texts cover what the hand-built line has to get right: matches (several in one text, several
    # evidence steps), and characters json escapes or keeps as they are.
    counts = [len(json.loads(x)["matches"]) for x in lines[:-1]]
    assert counts[0] == counts[1] == 0 and max(counts) >= 2
    assert any(len(m["evidence"]) >= 2 for x in lines[:-1] for m in json.loads(x)["matches"])
