"""API keys across real processes: `moderation keys` as a command, `moderation serve` as two servers on one
Redis (two workers or instances) or one server on a key file. A key the command prints works on every
server, and once the command revokes it every server refuses it at its next request."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve import REPO, Server, _env, _start, _wait_ready
from tests.support.redis_server import delete_keys_under, free_port


def _keys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "keys", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _moderate(server: Server, key: str | None) -> tuple[int, dict]:
    headers = {"content-type": "application/json", **({"X-API-Key": key} if key else {})}
    request = urllib.request.Request(
        server.base + "/v1/moderate", data=json.dumps({"text": "Hello there."}).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _serve(env: dict[str, str], log: Path) -> Server:
    port = free_port()
    server = Server(_start(["serve"], env, log, port), port, log)
    _wait_ready(server)
    return server


def _stop(servers: list[Server]) -> None:
    for server in servers:
        server.proc.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def servers_on_redis(redis_url, tmp_path) -> Iterator[tuple[dict[str, str], list[Server]]]:
    prefix = f"test-keys-serve-{os.getpid()}:"
    env = _env(
        MODERATION_MODEL="none",
        REDIS_URL=redis_url,
        MODERATION_REDIS_PREFIX=prefix,
        MODERATION_REQUIRE_API_KEY="true",
    )
    servers: list[Server] = []
    try:
        servers = [_serve(env, tmp_path / f"server-{i}.log") for i in range(2)]
        yield env, servers
    finally:
        _stop(servers)
        delete_keys_under(redis_url, prefix)


def test_a_key_from_the_command_works_on_every_server_until_revoked(servers_on_redis):
    env, servers = servers_on_redis
    for server in servers:
        status, body = _moderate(server, None)
        assert (status, body["error"]["code"]) == (401, "missing_api_key")
    created = _keys(env, "create", "example.org")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    for server in servers:
        assert _moderate(server, key)[0] == 200
    revoked = _keys(env, "revoke", key.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    for server in servers:
        status, body = _moderate(server, key)
        assert (status, body["error"]["code"]) == (401, "invalid_api_key")
    listed = _keys(env, "list")
    assert key.split("_")[1] in listed.stdout and key not in listed.stdout


def test_a_server_without_redis_reads_the_key_file_the_command_writes(tmp_path):
    keys_file = tmp_path / "data" / "keys.json"
    env = _env(
        MODERATION_MODEL="none", MODERATION_KEYS_FILE=str(keys_file), MODERATION_REQUIRE_API_KEY="true"
    )
    server = _serve(env, tmp_path / "server.log")
    try:
        created = _keys(env, "create", "example.org")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert _moderate(server, key)[0] == 200
        assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
        assert _keys(env, "revoke", key).returncode == 0
        assert _moderate(server, key)[0] == 401
    finally:
        _stop([server])
