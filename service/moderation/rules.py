"""The rules a verdict is made by (the policy and the word lists) and their reload off the request path.

A request takes one `Rules` when it starts (`RulesWatcher.current()`, one attribute read: no file is looked
at, nothing is built) and judges all of its comments with it, so a reload halfway through a request never
mixes one version's word list with another's policy, and the verdict cache key it computed still names
the rules its verdicts were made by.

Reloading is the background task `RulesWatcher.watch()`, which the app's lifespan starts:
- every `poll_s` it looks at the rules files' sizes and modification times, in a thread of its own;
- a change is rebuilt once the files have stopped changing for `debounce_s` (an editor's save in several
  writes, or a deploy copying several files, is one rebuild, not one per write);
- the rebuild (policy and word lists together, about a second or more for the word lists) runs in that
  thread, and the new `Rules` replace the old in one assignment once built. Requests judge with the old
  rules until then and never wait for the build;
- a rebuild that fails (a broken edit) keeps the old rules; the error is logged, counted and kept in
  `status()` (/readyz's details and /metrics show it) until an edit that builds replaces it. The same
  broken files are not rebuilt again and again: the next attempt comes with the next change.

The build's thread still shares the interpreter lock with the event loop, so requests during a rebuild are
slowed by it (the loop gets the lock back every few milliseconds), never stopped: tests/benchmarks/
bench_reload.py measures what that costs a request.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from service.moderation.policy import Policy, PolicyError, load_policy
from service.wordlist.matcher import WordList
from service.wordlist.rules import WordListError, rules_files

log = logging.getLogger(__name__)

#: While a rebuild runs, how often the interpreter hands its lock from one thread to another (its default is
#: 5 ms). The event loop gives the lock up at every network wait and then waits for the build's thread to
#: hand it back: up to this long each time, several times per request. Shorter while building keeps requests
#: closer to their usual latency: in bench_reload.py on a busy 2-core machine, p99 during rebuilds was 934 ms
#: with the default interval and 270 ms with this one (one run each: the machine's noise is as large).
BUILD_SWITCH_INTERVAL_S = 0.0005

_switching = threading.Lock()
_builds_running = 0
_usual_interval = sys.getswitchinterval()


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """BUILD_SWITCH_INTERVAL_S while any rebuild of this process runs; the usual interval again after."""
    global _builds_running, _usual_interval
    with _switching:
        if _builds_running == 0:
            _usual_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_usual_interval, BUILD_SWITCH_INTERVAL_S))
        _builds_running += 1
    try:
        yield
    finally:
        with _switching:
            _builds_running -= 1
            if _builds_running == 0:
                sys.setswitchinterval(_usual_interval)


#: For builds elsewhere that share the event loop's process (the teach page's what-if, issue 11 item 7).
short_switch_interval = _short_switch_interval

#: The files' state: (path, mtime in ns, size) for each, -1s for one that cannot be read.
Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Rules:
    """One consistent set of rules: the policy and the word lists built together."""

    policy: Policy
    wordlist: WordList


class RulesSource(Protocol):
    """What the pipeline judges with: the rules of now (cheap: called once per request)."""

    def current(self) -> Rules: ...


@dataclass(frozen=True)
class ReloadStatus:
    """How reloading goes, for /readyz's details and /metrics."""

    reloads: int
    """Rebuilds that succeeded and were swapped in since the start."""
    failures: int
    """Rebuilds that failed (the old rules were kept)."""
    error: str | None
    """Why the files as they are now do not build (None when the rules served are theirs)."""
    error_at: float | None
    """When that rebuild failed (Unix time)."""
    loaded_at: float
    """When the rules served now were built (Unix time)."""


def load(rules_dir: pathlib.Path, policy_file: pathlib.Path) -> Rules:
    """The policy and word lists as the files say now (blocking: a second or more). Raises PolicyError or
    WordListError."""
    return Rules(policy=load_policy(policy_file), wordlist=WordList.load(rules_dir))


class RulesWatcher:
    """Serves the current `Rules`; `watch()` rebuilds them in a thread when the files change (see the
    module's docstring). Without `watch()` running, the rules stay as loaded (a batch rescoring run)."""

    def __init__(
        self,
        rules_dir: pathlib.Path,
        policy_file: pathlib.Path,
        *,
        poll_s: float = 1.0,
        debounce_s: float = 0.5,
        loader: Callable[[pathlib.Path, pathlib.Path], Rules] = load,
    ) -> None:
        """Loads the rules now (blocking), raising PolicyError or WordListError for files that do not build:
        a service must not start on broken rules."""
        self.rules_dir = pathlib.Path(rules_dir)
        self.policy_file = pathlib.Path(policy_file)
        self.poll_s = poll_s
        self.debounce_s = debounce_s
        self._loader = loader
        self._signature = self.signature()
        self._current = loader(self.rules_dir, self.policy_file)
        self._reloads = 0
        self._failures = 0
        self._error: str | None = None
        self._error_at: float | None = None
        self._loaded_at = time.time()
        # Only the watch task's thread builds; the lock guards the status it writes against readers.
        self._lock = threading.Lock()

    def current(self) -> Rules:
        return self._current

    def status(self) -> ReloadStatus:
        with self._lock:
            return ReloadStatus(
                reloads=self._reloads,
                failures=self._failures,
                error=self._error,
                error_at=self._error_at,
                loaded_at=self._loaded_at,
            )

    def signature(self) -> Signature:
        """The rules files' state (blocking: a few stat calls)."""
        folder = self.rules_dir / "wordlist"
        paths = {*rules_files(self.rules_dir), self.policy_file}
        if folder.is_dir():
            paths.update(folder.glob("*.txt"))
        out = []
        for path in sorted(paths):
            try:
                st = path.stat()
                out.append((str(path), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(path), -1, -1))
        return tuple(out)

    async def watch(self) -> None:
        """Look for edits every `poll_s` and rebuild in the background, until cancelled."""
        if self.poll_s <= 0:
            return
        loop = asyncio.get_running_loop()
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rules-reload")
        try:
            while True:
                await asyncio.sleep(self.poll_s)
                seen = await loop.run_in_executor(thread, self.signature)
                if seen == self._signature:
                    continue
                # Debounce: wait until the files hold still, so a burst of writes is one rebuild.
                while True:
                    await asyncio.sleep(self.debounce_s)
                    again = await loop.run_in_executor(thread, self.signature)
                    if again == seen:
                        break
                    seen = again
                await loop.run_in_executor(thread, self.rebuild, seen)
        finally:
            # Not waited for: a shutdown must not sit out a build under way (it ends in its thread, unused).
            thread.shutdown(wait=False, cancel_futures=True)

    def rebuild(self, signature: Signature | None = None) -> bool:
        """Build the rules as the files are now and swap them in; on failure keep the old ones. Blocking:
        `watch()` runs it in its thread. `signature` is the files' state the build starts from (taken
        before it, so that an edit made during the build is seen and rebuilt in turn)."""
        self._signature = signature if signature is not None else self.signature()
        try:
            with _short_switch_interval():
                rules = self._loader(self.rules_dir, self.policy_file)
        except (PolicyError, WordListError) as exc:
            self._failed(str(exc))
            log.error("rules not reloaded, still serving the previous ones (%s): %s", self._describe(), exc)
            return False
        except Exception as exc:  # a bug in building must not end reloading, nor the rules served
            self._failed(f"{type(exc).__name__}: {exc}")
            log.exception("rules not reloaded, still serving the previous ones (%s)", self._describe())
            return False
        self._current = rules  # one assignment: a request sees the old rules or the new, never a mix
        with self._lock:
            self._reloads += 1
            self._error = self._error_at = None
            self._loaded_at = time.time()
        log.info("rules reloaded: %s", self._describe())
        return True

    def _failed(self, error: str) -> None:
        with self._lock:
            self._failures += 1
            self._error, self._error_at = error, time.time()

    def _describe(self) -> str:
        rules = self._current
        return f"policy {rules.policy.version}, word lists {rules.wordlist.version}"

    def __repr__(self) -> str:
        return f"RulesWatcher({self.rules_dir}, {self._describe()})"
