"""The sites' API keys in a file, for embedded runs without Redis (MODERATION_KEYS_FILE).

The file is JSON, written only by `moderation keys` (create, revoke) and read by every service process:

    {
      "format": "moderation-api-keys/1",
      "keys": [
        {"id": "k3f9q0c2m7xa", "site": "example.org", "sha256": "<64 hex digits>",
         "created_ms": 1764400000000, "revoked_ms": null}
      ]
    }

`sha256` is the SHA-256 of the whole key: the file never holds a key, so reading it lets nobody call the
service. Adding a line to it does, though: the file is created with mode 0600 (its folder, when created
here, 0700), and a file that the group or others may write is refused until `chmod 600` (as ssh refuses a
key file others can read).

Writes replace the file whole (a temporary file in the same folder, fsynced, then renamed over it), under an
exclusive lock on `<file>.lock`, so that readers always see one complete version and two commands at once
lose neither's key. Readers take no lock: they stat the file on every lookup and read it again when it was
replaced, so a key revoked by the command is refused by every process from its next request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from service.store.base import ApiKeyRecord, StoreUnavailable, check_api_key_id

FORMAT = "moderation-api-keys/1"
#: Permission bits that let someone other than the owner change the file, i.e. add a key.
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


class KeyFileError(StoreUnavailable):
    """The key file cannot be used: unreadable, not the expected JSON, or writable by others."""


# What identifies one version of the file: a rename gives a new inode, a rewrite in place a new mtime/size.
_Version = tuple[int, int, int, int]


class KeyFile:
    """An ApiKeyStore in one JSON file (module docstring). Cheap to make: nothing is read until asked."""

    kind: Literal["file"] = "file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._version: _Version | None = None
        self._records: dict[str, ApiKeyRecord] = {}

    # -- reading -----------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Read the file now (startup): raises KeyFileError when it exists and cannot be used."""
        self._current()

    def _current(self) -> dict[str, ApiKeyRecord]:
        """The records as the file holds them now, read again only when the file was replaced or changed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            # No key made yet: nothing is valid (and nothing is wrong).
            self._version, self._records = None, {}
            return self._records
        except OSError as exc:
            raise KeyFileError(f"cannot read the API key file {self.path}: {exc.strerror or exc}") from exc
        version = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        if version != self._version:
            self._records = self._read(st)
            self._version = version
        return self._records

    def _read(self, st: os.stat_result) -> dict[str, ApiKeyRecord]:
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"the API key file {self.path} is not a regular file")
        if st.st_mode & _WRITABLE_BY_OTHERS:
            raise KeyFileError(
                f"the API key file {self.path} may be written by its group or others (mode "
                f"{stat.S_IMODE(st.st_mode):04o}), and whoever can write it can add a key: "
                f"`chmod 600 {self.path}`"
            )
        try:
            document = json.loads(self.path.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise KeyFileError(f"cannot read the API key file {self.path}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise KeyFileError(f"the API key file {self.path} is not JSON: {exc}") from exc
        return _parse(self.path, document)

    # -- the ApiKeyStore protocol ------------------------------------------------------------------------------

    async def add_api_key(self, record: ApiKeyRecord) -> bool:
        with self._changing() as records:
            if record.id in records:
                return False
            records[record.id] = record
            return True

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._current().get(check_api_key_id(key_id))

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return sorted(self._current().values(), key=lambda r: (r.created_ms, r.id))

    async def revoke_api_key(self, key_id: str, at_ms: int) -> ApiKeyRecord | None:
        check_api_key_id(key_id)
        with self._changing() as records:
            record = records.get(key_id)
            if record is None or record.revoked:
                return record
            records[key_id] = revoked = dataclasses.replace(record, revoked_ms=at_ms)
            return revoked

    def describe(self) -> str:
        return f"file {self.path}"

    async def aclose(self) -> None:
        """Nothing stays open between calls."""

    def __repr__(self) -> str:
        return f"KeyFile({str(self.path)!r})"

    # -- writing -----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, ApiKeyRecord]]:
        """The records to change, read under the writers' lock; written back whole when the block ends
        without an exception."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise KeyFileError(f"cannot write the API key file {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            self._version = None  # another writer may have changed it since it was read: read it again
            records = dict(self._current())
            before = dict(records)
            yield records
            if records != before:
                self._write(records)
        finally:
            os.close(lock_fd)  # closing releases the lock

    def _write(self, records: dict[str, ApiKeyRecord]) -> None:
        document = {
            "format": FORMAT,
            "keys": [_entry(r) for r in sorted(records.values(), key=lambda r: (r.created_ms, r.id))],
        }
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            # mkstemp creates the file 0600, readable by its owner only, before anything is written to it.
            fd, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise KeyFileError(f"cannot write the API key file {self.path}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise KeyFileError(f"cannot write the API key file {self.path}: {exc.strerror or exc}") from exc
        self._version = None


def _entry(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "site": record.site,
        "sha256": record.digest,
        "created_ms": record.created_ms,
        "revoked_ms": record.revoked_ms,
        **({"origins": list(record.origins)} if record.origins else {}),
    }


def _parse(path: Path, document: Any) -> dict[str, ApiKeyRecord]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise KeyFileError(f'the API key file {path} is not in the format "{FORMAT}"')
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeyFileError(f"the API key file {path} has no list of keys")
    records: dict[str, ApiKeyRecord] = {}
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ValueError("not an object")
            created, revoked = entry.get("created_ms"), entry.get("revoked_ms")
            if not isinstance(created, int) or not (revoked is None or isinstance(revoked, int)):
                raise ValueError("created_ms and revoked_ms must be whole milliseconds (revoked_ms or null)")
            origins = entry.get("origins", [])
            if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
                raise ValueError("origins must be a list of web origins")
            record = ApiKeyRecord(
                id=str(entry.get("id", "")),
                site=str(entry.get("site", "")),
                digest=str(entry.get("sha256", "")),
                created_ms=created,
                revoked_ms=revoked,
                origins=tuple(origins),
            )
        except ValueError as exc:
            raise KeyFileError(f"the API key file {path}: entry {i} is not a key ({exc})") from exc
        if record.id in records:
            raise KeyFileError(f"the API key file {path}: key id {record.id} appears twice")
        records[record.id] = record
    return records
