"""Real Redis for tests: throwaway servers the tests own, and the shared server `make test` provides.

`ThrowawayRedis` starts its own `redis-server` on a free port of 127.0.0.1, with no persistence and a
temporary working directory, so a test can kill it ("Redis goes away") and start it again on the same port
("Redis comes back") without ever touching the machine's own server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
RESERVED_PORT = 6379  # the machine's own server, whether or not one runs right now


class RedisServerError(RuntimeError):
    """A throwaway redis-server could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (never 6379)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != RESERVED_PORT:
            return int(port)


def delete_keys_under(url: str, prefix: str) -> None:
    """Delete every key under `prefix` on the Redis at `url`: how tests clean up after themselves on a
    shared server, where FLUSHDB would wipe other tests' and other users' keys."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stale = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


def ping(host: str, port: int, *, timeout_s: float = 0.5) -> bool:
    """Whether a Redis without a password answers PING at host:port (raw RESP, no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def url_answers(url: str, *, timeout_s: float = 0.5) -> bool:
    """Whether the Redis at `url` answers PING (through redis-py, so passwords and databases count)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class ThrowawayRedis:
    """A `redis-server` on 127.0.0.1:<free port> that exists only for a test.

    Use it as a context manager (it starts on entry, and is killed and its directory removed on exit);
    `stop()` makes Redis go away as a crash would (SIGKILL), `start()` brings it back on the same port,
    empty.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        binary: str | None = None,
        startup_timeout_s: float = 5.0,
    ) -> None:
        if port == RESERVED_PORT:
            raise ValueError("port 6379 belongs to the machine's own Redis; a throwaway never uses it")
        found = binary or shutil.which("redis-server")
        if found is None:
            raise RedisServerError("redis-server not found on PATH (apt-get install redis-server)")
        self.binary = found
        self.port = port if port is not None else free_port()
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def start(self) -> Self:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self.running:
            return self
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="throwaway-redis-")
        workdir = Path(self._dir.name)
        logfile = workdir / "redis.log"
        # A server from an earlier start() might still hold the port only if stop() wasn't called;
        # a foreign process on it would answer PING and fool the wait below, so refuse it up front.
        if ping("127.0.0.1", self.port, timeout_s=0.2):
            raise RedisServerError(f"something already answers on 127.0.0.1:{self.port}")
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(workdir),
                "--logfile", str(logfile),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if ping("127.0.0.1", self.port, timeout_s=0.2):
                return self
            returncode = self._process.poll()
            if returncode is not None:
                self._process = None
                raise RedisServerError(
                    f"redis-server on port {self.port} exited with {returncode}:\n{_tail(logfile)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError(
                    f"redis-server on port {self.port} did not answer PING within "
                    f"{self.startup_timeout_s} s:\n{_tail(logfile)}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (SIGKILL: no goodbye to clients, like a crash) and wait for it to exit."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
        self._process = None

    def close(self) -> None:
        """Stop the server and remove its working directory."""
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ThrowawayRedis(port={self.port}, running={self.running})"


@contextlib.contextmanager
def redis_url_for_tests() -> Iterator[str]:
    """The URL of a Redis for tests that need a shared, long-lived one.

    `TEST_REDIS_URL` when set (it must answer: a wrong explicit setting is an error, not a skip); else
    the default, redis://127.0.0.1:6379/15, when it answers; else a ThrowawayRedis for the duration.
    Raises RedisServerError when none of these works (the caller decides whether that is a skip).
    Tests must confine themselves to their own key prefix: this may be the machine's own server.
    """
    explicit = os.environ.get("TEST_REDIS_URL")
    url = explicit or DEFAULT_TEST_REDIS_URL
    if url_answers(url):
        yield url
        return
    if explicit:
        raise RedisServerError(f"TEST_REDIS_URL={explicit} does not answer PING")
    with ThrowawayRedis() as server:
        # db 15 like the default, so keys land in the same place whichever server answers.
        yield f"redis://127.0.0.1:{server.port}/15"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def host_port(url: str) -> tuple[str, int]:
    """The host and port of a redis:// URL (6379 when the URL names none)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379
