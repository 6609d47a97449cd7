"""scripts/ensure-redis, run for real: it finds a Redis that answers or starts a throwaway one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.redis_server import ThrowawayRedis, free_port, ping

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-redis"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="ensure-redis is a bash script")


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT)],
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path), "ENSURE_REDIS_NO_INSTALL": "1", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def stop_started_server(pidfile: Path, port: int) -> None:
    """Stop the server the script started, by its pidfile, checking that the pid is still that server."""
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b"redis-server"  # no /proc: trust the pidfile the script wrote for us
    if b"redis-server" in cmdline and f":{port}".encode() in cmdline:  # a recycled pid is not ours
        os.kill(pid, signal.SIGTERM)
        wait_until_silent(port)


def wait_until_silent(port: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while ping("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_starts_a_throwaway_server_on_the_urls_port_then_reuses_it(tmp_path: Path) -> None:
    port = free_port()
    started_pidfile = tmp_path / "redis.pid"
    url = f"redis://127.0.0.1:{port}/0"
    try:
        first = run_script(tmp_path, REDIS_URL=url, ENSURE_REDIS_PIDFILE=str(started_pidfile))
        assert first.returncode == 0, first.stderr
        assert f"started a throwaway redis-server on 127.0.0.1:{port}" in first.stdout
        assert str(started_pidfile) in first.stdout
        assert ping("127.0.0.1", port)
        pid = started_pidfile.read_text().strip()
        assert pid.isdigit()

        second = run_script(tmp_path, REDIS_URL=url, ENSURE_REDIS_PIDFILE=str(tmp_path / "other.pid"))
        assert second.returncode == 0, second.stderr
        assert f"Redis at {url} answers PING; using it" in second.stdout
        assert not (tmp_path / "other.pid").exists()
    finally:
        stop_started_server(started_pidfile, port)
    assert not ping("127.0.0.1", port)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_checks_with_python_when_redis_cli_is_missing(tmp_path: Path) -> None:
    with ThrowawayRedis() as server:
        result = run_script(
            tmp_path, REDIS_URL=server.url, REDIS_CLI="/nonexistent/redis-cli", PYTHON=sys.executable
        )
        assert result.returncode == 0, result.stderr
        assert "answers PING; using it" in result.stdout


def test_without_a_server_binary_it_says_how_to_install_and_fails(tmp_path: Path) -> None:
    result = run_script(
        tmp_path,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        ENSURE_REDIS_SERVER_BIN="/nonexistent/redis-server",
    )
    assert result.returncode != 0
    assert "apt-get install redis-server" in result.stdout + result.stderr


def test_refuses_to_start_a_server_for_another_host_and_masks_the_password(tmp_path: Path) -> None:
    # Nothing listens on 127.0.0.2:<free port> either, but the script must not start a server for it.
    result = run_script(tmp_path, REDIS_URL=f"redis://:hunter2@127.0.0.2:{free_port()}/0")
    assert result.returncode != 0
    assert "only be started here for 127.0.0.1" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
