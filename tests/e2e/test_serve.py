"""`moderation serve` as a real process: uvicorn, the real Detoxify loader on a checkpoint built here,
real HTTP, and a real Redis. Also the startup failures an operator must be able to read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from service.model.demo import build_tiny_checkpoint
from tests.support.redis_server import delete_keys_under, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    # The tests' data directory (tests/conftest.py), so that no served process journals into the user's.
    env["MODERATION_DATA_DIR"] = os.environ["MODERATION_DATA_DIR"]
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        MODERATION_LOG_LEVEL="INFO",
        MODERATION_MODEL_THREADS="1",
    )
    env.update(extra)
    return env


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def _start(args: list[str], env: dict[str, str], log: Path, port: int) -> subprocess.Popen:
    return _popen([sys.executable, "-m", "service", *args, "--port", str(port)], env, log)


def _popen(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """The process, its output going to `log`. The parent's handle on the log closes once the child has
    its own copy, so no file is left open behind the test."""
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(server: Server, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"server exited with {server.proc.returncode}:\n{server.log.read_text()}")
        try:
            status, _ = server.request("GET", "/readyz")
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    pytest.fail(f"server not ready in {timeout_s}s:\n{server.log.read_text()}")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory, redis_url) -> Iterator[Server]:
    prefix = f"test-serve-{os.getpid()}:"
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = _env(MODERATION_MODEL_PATH=str(tiny_model), REDIS_URL=redis_url, MODERATION_REDIS_PREFIX=prefix)
    proc = _start(["serve"], env, log, port)
    srv = Server(proc, port, log)
    try:
        _wait_ready(srv)
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        delete_keys_under(redis_url, prefix)


def test_serves_real_model_verdicts_over_http(server):
    status, ready = server.request("GET", "/readyz")
    assert status == 200 and ready["checks"]["redis"]["ok"] is True
    model_id = ready["checks"]["model"]["detail"]
    assert model_id.startswith("tiny:") and len(model_id.split(":")[1]) == 12

    status, body = server.request("POST", "/v1/moderate", {"text": "What a fucking mess.", "id": "e2e-1"})
    assert status == 200
    assert body["verdict"] == "reject" and body["model"] == model_id and body["model_consulted"] is True
    assert any(r["clause"] == "obscene" and r["source"] == "wordlist" for r in body["reasons"])
    assert set(body["scores"]) >= {"toxicity", "insult", "threat", "sexual_explicit"}
    assert all(0.0 <= s <= 1.0 for s in body["scores"].values())

    status, again = server.request("POST", "/v1/moderate", {"text": "What a fucking mess.", "id": "e2e-2"})
    assert again["cached"] is True and again["scores"] == body["scores"]

    status, err = server.request("POST", "/v1/moderate", {"text": "  "})
    assert status == 422 and err["error"]["code"] == "empty_text"


def test_log_says_what_was_loaded(server):
    log = server.log.read_text()
    assert "policy 2026-11-29.1 loaded" in log
    assert "verdict cache: redis://" in log


def test_python_dash_m_service_serves_too(tiny_model, tmp_path):
    """`python -m service` with no subcommand is `moderation serve` (memory cache, logged as such)."""
    port, log = free_port(), tmp_path / "log"
    proc = _popen(
        [sys.executable, "-m", "service"],
        _env(MODERATION_MODEL_PATH=str(tiny_model), MODERATION_PORT=str(port)),
        log,
    )
    try:
        _wait_ready(Server(proc, port, log))
        assert "REDIS_URL is unset" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _fails_to_start(env: dict[str, str], tmp_path: Path) -> str:
    log = tmp_path / "fail.log"
    proc = _start(["serve"], env, log, free_port())
    try:
        rc = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the server started although it should not have")
    assert rc != 0
    out = log.read_text()
    # One paragraph with the cause and remedies; the traceback only at DEBUG.
    assert "Traceback" not in out
    return out


def test_unloadable_weights_stop_the_service_with_remedies(tmp_path):
    out = _fails_to_start(_env(MODERATION_MODEL_PATH=str(tmp_path / "no-such-folder")), tmp_path)
    assert "cannot start" in out and "MODERATION_MODEL_PATH" in out and "no-such-folder" in out


def test_production_without_redis_stops_the_service_unless_the_memory_store_is_allowed(tmp_path):
    production = _env(
        MODERATION_MODEL="none",
        MODERATION_ENVIRONMENT="production",
        MODERATION_ADMIN_PASSWORD="correct horse battery staple, but longer",
        MODERATION_SESSION_SECRET="R2kC6yq0mT8cXn3vJb5Wf9Lp1Hs7Ge4dZa-Qo_uYiK",
        MODERATION_ALLOWED_HOSTS="127.0.0.1",
    )
    out = _fails_to_start(production, tmp_path)
    assert "cannot start: REDIS_URL is not set" in out and "MODERATION_ALLOW_MEMORY_STORE=true" in out
    port, log = free_port(), tmp_path / "allowed.log"
    proc = _start(["serve"], {**production, "MODERATION_ALLOW_MEMORY_STORE": "true"}, log, port)
    try:
        _wait_ready(Server(proc, port, log))
        assert "at most 100000 pending reviews and moderators' decisions" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_bad_policy_stops_the_service_naming_file_and_field(tmp_path):
    policy = yaml.safe_load((REPO / "rules" / "policy.yaml").read_text())
    policy["categories"]["threat"]["reject"] = 7
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(policy))
    out = _fails_to_start(_env(MODERATION_MODEL="none", MODERATION_POLICY_FILE=str(bad)), tmp_path)
    assert f"cannot start: {bad}: categories.threat.reject" in out


def test_model_none_says_so_loudly(tmp_path):
    port, log = free_port(), tmp_path / "log"
    proc = _start(["serve"], _env(MODERATION_MODEL="none"), log, port)
    srv = Server(proc, port, log)
    try:
        _wait_ready(srv)
        assert "MODERATION_MODEL=none" in log.read_text() and "OFF" in log.read_text()
        status, body = srv.request("POST", "/v1/moderate", {"text": "Nice article."})
        assert status == 200
        assert body["model"] == "none" and body["model_consulted"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _wait_answering(server: Server, timeout_s: float = 60.0) -> None:
    """Until /healthz answers (/readyz may rightly say not ready)."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert server.proc.poll() is None, server.log.read_text()
        try:
            if server.request("GET", "/healthz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.2)


def _stop(server: Server) -> str:
    server.proc.terminate()
    server.proc.wait(timeout=15)
    return server.log.read_text()


def test_the_log_escapes_what_clients_send(tmp_path):
    """Before: a path's ESC (and any control character) went raw into the error line that quotes it."""
    port, redis_port = free_port(), free_port()
    # No Redis there: reading a status fails, and the failure is logged with the path asked for.
    env = _env(MODERATION_MODEL="none", REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    srv = Server(_start(["serve"], env, tmp_path / "log", port), port, tmp_path / "log")
    try:
        _wait_answering(srv)
        status, body = srv.request(
            "GET", "/v1/comments/c%1b[2J%e2%80%aeforged%0d%0a2030-01-01%20CRITICAL?token=t"
        )
        assert status == 503 and body["error"]["code"] == "store_unavailable"
    finally:
        text = _stop(srv)
    line = next(line for line in text.splitlines() if "store unavailable" in line)
    assert "GET /v1/comments/c\\x1b[2J\\u202eforged" in line
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert not any(line.startswith("2030-01-01") for line in text.splitlines())


def test_the_log_masks_the_webhook_urls_password(tmp_path):
    """Before: a failed delivery logged the webhook URL with its password."""
    port, hook_port = free_port(), free_port()
    password = "e2e-admin-password-long-enough"
    env = _env(
        MODERATION_MODEL="none",
        MODERATION_ADMIN_PASSWORD=password,
        # Nothing listens there: the delivery fails and is logged, URL and all.
        MODERATION_WEBHOOK_URL=f"http://site:hook-s3cret@127.0.0.1:{hook_port}/moderation",
        MODERATION_WEBHOOK_SECRET="signing-secret",
        MODERATION_WEBHOOK_MAX_ATTEMPTS="1",
    )
    srv = Server(_start(["serve"], env, tmp_path / "log", port), port, tmp_path / "log")
    try:
        _wait_ready(srv)
        status, verdict = srv.request("POST", "/v1/moderate", {"text": "What the hell", "id": "hook-1"})
        assert status == 200 and verdict["verdict"] == "review"
        login = urllib.request.Request(
            srv.base + "/v1/session",
            data=json.dumps({"user": "admin", "password": password}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(login, timeout=30) as r:
            csrf = json.loads(r.read())["csrf_token"]
            cookie = r.headers["set-cookie"].split(";")[0]
        decide = urllib.request.Request(
            srv.base + "/v1/review/hook-1",
            data=json.dumps({"decision": "approve"}).encode(),
            headers={"content-type": "application/json", "cookie": cookie, "x-csrf-token": csrf},
        )
        with urllib.request.urlopen(decide, timeout=30) as r:
            assert r.status == 200
        deadline = time.monotonic() + 20
        while "failed after 1 attempts" not in srv.log.read_text():
            assert time.monotonic() < deadline, srv.log.read_text()
            time.sleep(0.2)
    finally:
        text = _stop(srv)
    assert "hook-s3cret" not in text
    assert f"webhook http://site:***@127.0.0.1:{hook_port}/moderation: delivery" in text


def _peak_rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM"))


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the server's peak memory from /proc"
)
def test_a_huge_login_form_costs_the_server_nothing(tmp_path):
    """Before: the login form was parsed whatever its size, up to 1,000 fields of 1 MB each (one such post
    took the server's peak memory from 172 MB to 1,124 MB) and only then refused for its missing token."""
    import http.client

    port, log = free_port(), tmp_path / "log"
    srv = Server(_start(["serve"], _env(MODERATION_MODEL="none"), log, port), port, log)
    try:
        _wait_ready(srv)
        before = _peak_rss_mb(srv.proc.pid)
        field = b"&f=" + b"a" * ((1 << 20) - 3)  # 1 MB, under Starlette's own 1 MB per field
        fields = 120
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.putrequest("POST", "/dashboard/login")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(len(b"user=admin") + fields * len(field)))
        conn.endheaders()
        try:
            conn.send(b"user=admin")
            for _ in range(fields):
                conn.send(field)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed without reading the rest: what it should do
        response = conn.getresponse()
        assert response.status == 413
        assert "text/html" in response.getheader("content-type")
        conn.close()
        grown = _peak_rss_mb(srv.proc.pid) - before
        assert grown < 40, f"the server's peak memory grew by {grown} MB for one form post"
    finally:
        _stop(srv)
