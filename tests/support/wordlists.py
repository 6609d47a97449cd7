"""A test double for the word lists: matching that blocks until the test lets it go.

The word-list engine is made fast elsewhere; what the pipeline promises is that however long matching one
comment takes, it never holds the event loop. A real slow input would stop being slow once the engine is
fixed, so the tests hold matching busy on purpose instead, with this double (named as such).
"""

from __future__ import annotations

import threading

from service.moderation.rules import Rules, RulesWatcher
from service.moderation.types import WordMatch
from service.wordlist.matcher import WordList

#: A comment containing this blocks in `find` until `release` is set.
BLOCK_MARKER = "[[block-matching]]"


class BlockingWordList:
    """Delegates to a real WordList, except that `find` on a text with BLOCK_MARKER waits for `release`.

    `entered` is set when such a call starts and `finished` when it returns. The wait is bounded, so a test
    that forgets to release (or code that runs matching where it must not) fails instead of hanging:
    `timed_out` then says so."""

    def __init__(self, real: WordList, *, wait_s: float = 10.0) -> None:
        self.real = real
        self.version = real.version
        self.wait_s = wait_s
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.timed_out = False

    def find(self, text: str) -> list[WordMatch]:
        if BLOCK_MARKER in text:
            self.entered.set()
            if not self.release.wait(timeout=self.wait_s):
                self.timed_out = True
            self.finished.set()
        return self.real.find(text)


class BlockingWordLists:
    """Stands in for a RulesWatcher: always serves the real current policy with one BlockingWordList over
    the real current list, and never reloads."""

    def __init__(self, real: RulesWatcher, *, wait_s: float = 10.0) -> None:
        current = real.current()
        self.wordlist = BlockingWordList(current.wordlist, wait_s=wait_s)
        self._rules = Rules(policy=current.policy, wordlist=self.wordlist)  # type: ignore[arg-type]
        self.status = real.status

    def current(self) -> Rules:
        return self._rules

    async def watch(self) -> None:
        return None
