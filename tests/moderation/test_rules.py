"""The rules (policy and word lists) and their reload in the background: RulesWatcher on real rules files.

What is asserted is the order of events (a build started, a request answered, the build let go), never how
long something took: the machine running the tests may be slow and busy.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable

import pytest
import yaml

from service.moderation.policy import PolicyError
from service.moderation.rules import Rules, RulesWatcher, load
from service.wordlist.rules import WordListError

pytestmark = pytest.mark.anyio

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
#: How long a test waits for something that should take milliseconds, before it fails instead of hanging.
PATIENCE_S = 20.0


@pytest.fixture
def rules_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the shipped rules (policy and word lists), for a test to edit."""
    shutil.copytree(RULES, tmp_path / "rules")
    return tmp_path / "rules"


class GatedLoader:
    """The real `load`, except that while `hold` is set a build waits for `release` (bounded: a test that
    forgets to release fails instead of hanging). Counts builds; `started` is set when one begins."""

    def __init__(self) -> None:
        self.hold = False
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.builds = 0

    def __call__(self, rules_dir: pathlib.Path, policy_file: pathlib.Path) -> Rules:
        self.builds += 1
        if self.hold:
            self.started.set()
            assert self.release.wait(timeout=PATIENCE_S), "the test never let the build go"
        try:
            return load(rules_dir, policy_file)
        finally:
            if self.hold:
                self.finished.set()


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE_S} s for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def watching(rules_dir: pathlib.Path) -> AsyncIterator[Callable[..., RulesWatcher]]:
    """Starts a watcher's background task on the test's loop; cancelled at teardown."""
    tasks: list[asyncio.Task[None]] = []

    def start(**kwargs: object) -> RulesWatcher:
        options: dict[str, object] = {"poll_s": 0.02, "debounce_s": 0.05, **kwargs}
        watcher = RulesWatcher(rules_dir, rules_dir / "policy.yaml", **options)  # type: ignore[arg-type]
        tasks.append(asyncio.create_task(watcher.watch()))
        return watcher

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _add_term(rules_dir: pathlib.Path, term: str) -> None:
    (rules_dir / "wordlist" / "site-suspect.txt").write_text(f"[review personal]\n{term}\n")


def _set_policy_version(rules_dir: pathlib.Path, version: str) -> None:
    policy = yaml.safe_load((rules_dir / "policy.yaml").read_text())
    policy["version"] = version
    (rules_dir / "policy.yaml").write_text(yaml.safe_dump(policy))


async def test_an_edit_is_served_once_built_and_the_old_rules_until_then(
    watching: Callable[..., RulesWatcher], rules_dir: pathlib.Path
) -> None:
    loader = GatedLoader()
    watcher = watching(loader=loader)
    before = watcher.current()
    assert before.wordlist.find("numpty") == []
    loader.hold = True
    _add_term(rules_dir, "numpty")
    _set_policy_version(rules_dir, "edited")
    await _until(loader.started.is_set, "the rebuild to start")
    # The build is under way in its thread; the event loop is free and the old rules are served meanwhile.
    assert watcher.current() is before and not loader.finished.is_set()
    loader.release.set()
    await _until(lambda: watcher.current() is not before, "the new rules to be swapped in")
    after = watcher.current()
    # Word lists and policy arrive together, in one swap.
    assert [m.term for m in after.wordlist.find("numpty")] == ["numpty"]
    assert after.policy.version == "edited"
    assert watcher.status().reloads == 1 and watcher.status().error is None


async def test_a_broken_edit_keeps_the_old_rules_and_says_why(
    watching: Callable[..., RulesWatcher], rules_dir: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    loader = GatedLoader()
    watcher = watching(loader=loader)
    before = watcher.current()
    with caplog.at_level(logging.ERROR, logger="service.moderation.rules"):
        (rules_dir / "wordlist" / "site-suspect.txt").write_text("[review nonsense]\nnumpty\n")
        await _until(lambda: watcher.status().failures == 1, "the broken edit to be tried")
    assert watcher.current() is before
    status = watcher.status()
    assert status.error is not None and "site-suspect.txt" in status.error and status.error_at is not None
    assert "site-suspect.txt" in caplog.text and "previous" in caplog.text
    # The same broken files are not rebuilt on every look; the next edit is.
    builds = loader.builds
    await asyncio.sleep(0.2)  # ten looks at the unchanged files
    assert loader.builds == builds
    _add_term(rules_dir, "numpty")
    await _until(lambda: watcher.status().reloads == 1, "the fixed edit to be served")
    assert watcher.status().error is None and watcher.current().wordlist.find("numpty")


async def test_a_broken_policy_keeps_the_old_rules(
    watching: Callable[..., RulesWatcher], rules_dir: pathlib.Path
) -> None:
    watcher = watching()
    before = watcher.current()
    (rules_dir / "policy.yaml").write_text("version: [unclosed\n")
    await _until(lambda: watcher.status().failures == 1, "the broken policy to be tried")
    assert watcher.current() is before and "policy.yaml" in (watcher.status().error or "")


async def test_a_burst_of_edits_is_one_rebuild(
    watching: Callable[..., RulesWatcher], rules_dir: pathlib.Path
) -> None:
    loader = GatedLoader()
    # Writes a few microseconds apart, against a second of quiet asked for: one rebuild unless this thread
    # is stalled for a whole second between two writes.
    watcher = watching(loader=loader, debounce_s=1.0)
    builds = loader.builds
    for n in range(1, 6):
        _add_term(rules_dir, "numpty" + "y" * n)
    await _until(lambda: watcher.status().reloads == 1, "the burst to be rebuilt")
    assert loader.builds == builds + 1
    assert [m.term for m in watcher.current().wordlist.find("numptyyyyyy")] == ["numptyyyyyy"]


async def test_an_edit_made_during_a_build_is_built_next(
    watching: Callable[..., RulesWatcher], rules_dir: pathlib.Path
) -> None:
    loader = GatedLoader()
    watcher = watching(loader=loader)
    loader.hold = True
    _add_term(rules_dir, "numpty")
    await _until(loader.started.is_set, "the first rebuild to start")
    _set_policy_version(rules_dir, "second")  # after the build read its files' state
    loader.hold = False
    loader.release.set()
    await _until(lambda: watcher.status().reloads == 2, "the second edit to be rebuilt")
    assert watcher.current().policy.version == "second"


def test_broken_rules_at_start_raise(rules_dir: pathlib.Path) -> None:
    (rules_dir / "wordlist" / "site-allow.txt").write_text("[allow obscene]\nfoo\n")
    with pytest.raises(WordListError):
        RulesWatcher(rules_dir, rules_dir / "policy.yaml")
    with pytest.raises(PolicyError):
        RulesWatcher(rules_dir, rules_dir / "missing.yaml")


async def test_without_watch_the_rules_stay_as_loaded(rules_dir: pathlib.Path) -> None:
    watcher = RulesWatcher(rules_dir, rules_dir / "policy.yaml", poll_s=0.01)
    first = watcher.current()
    _add_term(rules_dir, "numpty")
    await asyncio.sleep(0.05)
    assert watcher.current() is first
    # poll_s=0 turns watching off: the task ends at once.
    off = RulesWatcher(rules_dir, rules_dir / "policy.yaml", poll_s=0)
    await asyncio.wait_for(off.watch(), timeout=PATIENCE_S)
