import logging
import pathlib

import pytest

from service.wordlist.rules import WordListError
from service.wordlist.watcher import WordListWatcher


def test_watcher_reloads_and_keeps_serving_on_error(
    rules_copy: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = rules_copy
    watcher = WordListWatcher(rules, min_interval_s=0.0)
    first = watcher.current()
    assert first.find("numpty") == []
    (rules / "wordlist" / "site-suspect.txt").write_text("[review personal]\nnumpty\n")
    second = watcher.current()
    assert second is not first and [m.term for m in second.find("numpty")] == ["numpty"]
    (rules / "wordlist" / "site-suspect.txt").write_text("[review nonsense]\nnumpty\n")
    with caplog.at_level(logging.ERROR):
        assert watcher.current() is second
    assert "site-suspect.txt" in caplog.text


def test_watcher_rate_limits_checks(rules_copy: pathlib.Path) -> None:
    rules = rules_copy
    watcher = WordListWatcher(rules, min_interval_s=3600)
    first = watcher.current()
    (rules / "wordlist" / "site-suspect.txt").write_text("[review personal]\nnumpty\n")
    assert watcher.current() is first


def test_watcher_raises_on_bad_file_at_start(rules_copy: pathlib.Path) -> None:
    rules = rules_copy
    (rules / "wordlist" / "site-allow.txt").write_text("[allow obscene]\nfoo\n")
    with pytest.raises(WordListError):
        WordListWatcher(rules)
