"""Serves the current word list and reloads it when a rules file changes, without a restart."""

from __future__ import annotations

import logging
import pathlib
import threading
import time

from service.wordlist.matcher import WordList
from service.wordlist.rules import WordListError, rules_files

log = logging.getLogger(__name__)


class WordListWatcher:
    """Serves the current WordList and reloads it when the rules files change (no restart)."""

    def __init__(self, rules_dir: pathlib.Path, min_interval_s: float = 1.0) -> None:
        self._rules_dir = pathlib.Path(rules_dir)
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._signature = self._stat()
        self._current = WordList.load(self._rules_dir)
        self._checked_at = time.monotonic()

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        folder = self._rules_dir / "wordlist"
        paths = set(rules_files(self._rules_dir))
        if folder.is_dir():
            paths.update(folder.glob("*.txt"))
        for p in sorted(paths):
            try:
                st = p.stat()
                out.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(p), -1, -1))
        return tuple(out)

    def current(self) -> WordList:
        now = time.monotonic()
        if now - self._checked_at < self._min_interval_s:
            return self._current
        with self._lock:
            if now - self._checked_at < self._min_interval_s:
                return self._current
            self._checked_at = now
            signature = self._stat()
            if signature != self._signature:
                self._signature = signature
                try:
                    self._current = WordList.load(self._rules_dir)
                    log.info("word list reloaded: %r", self._current)
                except WordListError as exc:
                    log.error("word list not reloaded, keeping version %s: %s", self._current.version, exc)
            return self._current
