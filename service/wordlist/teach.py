"""Moderators teach the word list (issue 11, item 7): one term added to site-allow.txt or site-block.txt.

    normalise_term(text)        the term as the rules files hold it (one line, lower case, single spaces), or
                                TeachRefused when the format cannot hold it (`#` starts a comment, `|` a
                                flag, `[` a section) or it is empty or too long
    rules_writable(rules_dir)   whether this process may write the site files (Docker mounts rules/
                                read-only: then the dashboard only shows what a term would change)
    add_term(...)               the term written under its section, keeping the header and every entry:
                                a temporary file in the same folder, fsync, os.replace, fsync of the folder,
                                so the reload (RulesWatcher) sees the old file or the new one, never half;
                                under a lock (a thread lock and flock on a lock file in the folder) so two
                                moderators' additions, in one process or in replicas, never lose one
    proposed_copy(...)          a copy of the rules folder with the term added: what the what-if judges with

Nothing here is CPU-heavy per comment; the caller runs it in a thread (it reads and fsyncs files).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from service.moderation.types import Clause
from service.wordlist.rules import SITE_FILES, WordListError, parse_rules_file

TeachList = Literal["allow", "block"]
LIST_FILES: dict[TeachList, str] = {"allow": "site-allow.txt", "block": "site-block.txt"}
LOCK_FILE = ".teach.lock"
_FORBIDDEN = {"#": "'#' starts a comment", "|": "'|' starts a flag", "[": "'[' starts a section"}

_lock = threading.Lock()


class TeachRefused(Exception):
    """The term cannot be added; the message says why, for the moderator."""


@dataclass(frozen=True)
class Limits:
    term_max_chars: int
    file_max_entries: int
    file_max_bytes: int


def normalise_term(text: str, max_chars: int) -> str:
    """The term as a rules file holds it: trimmed, whitespace runs as one space, lower case (entries are
    folded like comments, so case never matters), NFC. Refused when the format cannot hold it."""
    term = " ".join(unicodedata.normalize("NFC", text).split()).lower()
    if not term:
        raise TeachRefused("Type a term: it is empty.")
    if len(term) > max_chars:
        raise TeachRefused(f"The term is {len(term)} characters long; at most {max_chars} are taken.")
    for char, why in _FORBIDDEN.items():
        if char in term:
            raise TeachRefused(f"The term cannot hold {char!r} ({why} in the rules files).")
    if any(unicodedata.category(c).startswith("C") for c in term):
        raise TeachRefused("The term cannot hold control or invisible format characters.")
    return term


def _folder(rules_dir: pathlib.Path) -> pathlib.Path:
    return rules_dir / "wordlist"


def rules_writable(rules_dir: pathlib.Path) -> bool:
    """Whether the site files can be replaced here: a file created and removed in the folder, which a
    read-only mount (EROFS), missing permissions or an immutable folder refuse, root or not."""
    folder = _folder(rules_dir)
    try:
        fd, name = tempfile.mkstemp(prefix=".teach-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


@contextlib.contextmanager
def _locked(folder: pathlib.Path) -> Iterator[None]:
    with _lock:
        try:
            fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TeachRefused(f"The rules are read-only here ({exc.strerror}).") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _section(list_name: TeachList, clause: Clause | None) -> str:
    if list_name == "allow":
        return "[allow]"
    if clause is None:
        raise TeachRefused("Choose the clause the blocked term falls under.")
    return f"[reject {clause}]"


def _with_term(text: str, header: str, term: str) -> str:
    """`text` with `term` as the last entry of section `header` (appended with its header when missing)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if " ".join(line.strip().split()) == header), None)
    if start is None:
        body = text if not text or text.endswith("\n") else text + "\n"
        return f"{body}\n{header}\n{term}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    # After the section's last entry or comment, before the blank lines that separate it from the next.
    at = end
    while at > start + 1 and not lines[at - 1].strip():
        at -= 1
    return "\n".join([*lines[:at], term, *lines[at:]]) + "\n"


def _check_and_build(path: pathlib.Path, list_name: TeachList, term: str, header: str, limits: Limits) -> str:
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise TeachRefused(f"{path.name} cannot be read: {exc}") from exc
    if len(text.encode("utf-8")) + len(term.encode("utf-8")) + 1 > limits.file_max_bytes:
        raise TeachRefused(
            f"{path.name} has reached its size limit ({limits.file_max_bytes} bytes): edit it by hand."
        )
    try:
        existing = parse_rules_file(path, SITE_FILES[path.name]) if path.exists() else []
    except WordListError as exc:
        raise TeachRefused(f"{path.name} does not parse now, so nothing was added: {exc}") from exc
    if len(existing) >= limits.file_max_entries:
        raise TeachRefused(
            f"{path.name} holds {len(existing)} entries, its limit: edit it by hand to add more."
        )
    for number, entry in existing:
        if entry.term.lower() == term:
            raise TeachRefused(f"{term!r} is already in {path.name} (line {number}).")
    return _with_term(text, header, term)


def _write_atomically(path: pathlib.Path, text: str) -> None:
    folder = path.parent
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            shutil.copymode(path, name)
        else:
            os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _verify(path: pathlib.Path, text: str, term: str, tiers_of: str) -> None:
    """The new file parses and holds the term: written to a scratch file and read back by the real parser."""
    with tempfile.TemporaryDirectory() as scratch:
        probe = pathlib.Path(scratch) / path.name
        probe.write_text(text, encoding="utf-8")
        try:
            parsed = parse_rules_file(probe, SITE_FILES[tiers_of])
        except WordListError as exc:
            raise TeachRefused(f"The term would not parse in {path.name}: {exc}") from exc
    if not any(entry.term.lower() == term for _, entry in parsed):
        raise TeachRefused(f"{path.name} cannot hold {term!r}.")


def add_term(
    rules_dir: pathlib.Path, list_name: TeachList, term: str, clause: Clause | None, limits: Limits
) -> pathlib.Path:
    """Add `term` (already normalised) to the list's site file, atomically and under the lock; returns the
    file. Raises TeachRefused with the moderator's message (duplicate, limits, read-only rules)."""
    term = normalise_term(term, limits.term_max_chars)
    header = _section(list_name, clause)
    folder = _folder(rules_dir)
    path = folder / LIST_FILES[list_name]
    if not folder.is_dir():
        raise TeachRefused(f"{folder} does not exist.")
    with _locked(folder):
        text = _check_and_build(path, list_name, term, header, limits)
        _verify(path, text, term, path.name)
        try:
            _write_atomically(path, text)
        except OSError as exc:
            raise TeachRefused(f"The rules are read-only here: {path.name} was not written ({exc}).") from exc
    return path


def proposed_copy(
    rules_dir: pathlib.Path,
    into: pathlib.Path,
    list_name: TeachList,
    term: str,
    clause: Clause | None,
    limits: Limits,
) -> pathlib.Path:
    """A copy of `rules_dir`'s word lists under `into` (a fresh folder) with `term` added: the rules the
    what-if judges with. Returns the copy's rules dir. Refuses what `add_term` would refuse."""
    term = normalise_term(term, limits.term_max_chars)
    header = _section(list_name, clause)
    copy = into / "rules"
    shutil.copytree(_folder(rules_dir), copy / "wordlist", ignore=shutil.ignore_patterns(".*"))
    path = copy / "wordlist" / LIST_FILES[list_name]
    text = _check_and_build(path, list_name, term, header, limits)
    path.write_text(text, encoding="utf-8")
    return copy
