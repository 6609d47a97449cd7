"""The container can't be built here (no Docker engine), so its commands are run as they are written:
the Dockerfile's CMD starts the service and its HEALTHCHECK probes it."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from service.model.demo import build_tiny_checkpoint
from tests.support.redis_server import delete_keys_under, free_port

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "docker" / "Dockerfile").read_text()


def _instruction(name: str) -> list[str]:
    match = (
        re.search(rf"^{name}\b.*?CMD (\[.*?\])\s*$", DOCKERFILE, re.M | re.S)
        if name == "HEALTHCHECK"
        else re.search(rf"^{name} (\[.*?\])\s*$", DOCKERFILE, re.M)
    )
    assert match, f"no {name} in the Dockerfile"
    return json.loads(match.group(1))


def test_image_runs_as_non_root_with_a_readiness_healthcheck():
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    health = _instruction("HEALTHCHECK")
    assert any("/readyz" in part for part in health)


def test_cmd_serves_and_healthcheck_probes_it(tmp_path):
    bindir = Path(sys.executable).parent
    if not (bindir / "moderation").exists():
        pytest.skip("the `moderation` command is not installed in this environment (pip install -e .)")
    model = build_tiny_checkpoint(tmp_path / "model")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.update(
        PATH=f"{bindir}{os.pathsep}{env['PATH']}",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        MODERATION_MODEL_PATH=str(model),
        MODERATION_PORT=str(port),
        MODERATION_HOST="127.0.0.1",
        MODERATION_RULES_DIR=str(REPO / "rules"),
    )
    health = [part.replace(":8000/", f":{port}/") for part in _instruction("HEALTHCHECK")]
    assert subprocess.run(health, env=env, capture_output=True).returncode == 1  # nothing listens yet
    proc = subprocess.Popen(
        _instruction("CMD"), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            probe = subprocess.run(health, env=env, capture_output=True, text=True)
            if probe.returncode == 0:
                break
            assert proc.poll() is None, "the CMD exited"
            assert time.monotonic() < deadline, probe.stderr
            time.sleep(0.5)
        assert json.loads(probe.stdout)["status"] == "ready"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_compose_runs_the_service_with_a_persistent_redis():
    compose = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())
    services = compose["services"]
    assert services["moderation"]["environment"]["REDIS_URL"].startswith("redis://redis:")
    redis_service = services["redis"]
    assert "--appendonly" in redis_service["command"] and "yes" in redis_service["command"]
    volume = redis_service["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose["volumes"]
    assert services["moderation"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # The outage journal (issue 12) lives in MODERATION_DATA_DIR, /data in the image, which the non-root user
    # owns; compose keeps it on a named volume so that a restarted container replays what it left.
    assert re.search(r"^ENV MODERATION_DATA_DIR=/data$", DOCKERFILE, re.M)
    assert re.search(r"mkdir -p /data && chown moderation /data", DOCKERFILE)
    data = [v.split(":") for v in services["moderation"]["volumes"] if v.split(":")[1] == "/data"]
    assert len(data) == 1 and data[0][0] in compose["volumes"]
    # Production (the image's environment) refuses to start without these: compose asks for them.
    environment = services["moderation"]["environment"]
    for name in ("MODERATION_ALLOWED_HOSTS", "MODERATION_ADMIN_PASSWORD", "MODERATION_SESSION_SECRET"):
        assert environment[name].startswith(f"${{{name}:?"), name


# -- the replicas profile (issue 12, item 6) ------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(\w+)(?::[?-]([^}]*))?\}")


def _compose_environment(service: dict, values: dict[str, str]) -> dict[str, str]:
    """`service`'s environment as compose fills it in: ${NAME:?why} from `values`, ${NAME:-default} else its
    default."""

    def fill(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2) or ""
        if name in values:
            return values[name]
        assert "?" not in match.group(0), f"compose would refuse to start without {name}: {rest}"
        return rest

    return {key: _VARIABLE.sub(fill, str(value)) for key, value in service["environment"].items()}


def test_compose_replicas_profile_runs_a_second_replica_of_the_same_service():
    compose = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())
    services = compose["services"]
    first, second = services["moderation"], services["moderation-2"]
    assert "profiles" not in first and second["profiles"] == ["replicas"]
    # Everything but the published port is the same service: one image, one Redis, one prefix, one secret.
    assert {k: v for k, v in first.items() if k != "ports"} == {
        k: v for k, v in second.items() if k not in ("ports", "profiles")
    }
    assert [p.split(":")[-1] for p in first["ports"] + second["ports"]] == ["8000", "8000"]
    assert len({p.split(":")[0] for p in first["ports"] + second["ports"]}) == 2
    # Both read the rules from the one host folder, where the image looks for them (MODERATION_RULES_DIR).
    rules_dir = re.search(r"^\s+MODERATION_RULES_DIR=(\S+)", DOCKERFILE, re.M)
    assert rules_dir and f"../rules:{rules_dir.group(1)}:ro" in second["volumes"]
    assert (REPO / "docker" / "../rules/policy.yaml").resolve().is_file()


def test_the_compose_replicas_share_a_session(tmp_path, redis_url):
    """The image's CMD run twice with the two replicas' compose environments (their Redis being the tests'):
    a moderator logged in on one is logged in on the other."""
    bindir = Path(sys.executable).parent
    if not (bindir / "moderation").exists():
        pytest.skip("the `moderation` command is not installed in this environment (pip install -e .)")
    compose = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())
    password = "replica-" + secrets.token_urlsafe(18)
    values = {
        "MODERATION_ALLOWED_HOSTS": "127.0.0.1",
        "MODERATION_ADMIN_PASSWORD": password,
        "MODERATION_SESSION_SECRET": secrets.token_urlsafe(32),
    }
    procs: list[subprocess.Popen] = []
    ports: list[int] = []
    # One prefix for the deployment, as compose gives both the same; the test's own under it.
    prefix = ""
    try:
        for name in ("moderation", "moderation-2"):
            environment = _compose_environment(compose["services"][name], values)
            assert environment["REDIS_URL"].startswith("redis://redis:")
            prefix = prefix or f"test-{secrets.token_hex(4)}:{environment['MODERATION_REDIS_PREFIX']}"
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
            env.update(environment)
            env.update(
                PATH=f"{bindir}{os.pathsep}{env['PATH']}",
                HF_HUB_OFFLINE="1",
                TRANSFORMERS_OFFLINE="1",
                # The image's own settings (Dockerfile ENV), with this machine's paths and ports.
                MODERATION_ENVIRONMENT="production",
                MODERATION_HOST="127.0.0.1",
                MODERATION_PORT=str(port),
                MODERATION_RULES_DIR=str(REPO / "rules"),
                # The word list alone: what is shared is under test, and two model loads at once are slow here.
                MODERATION_MODEL="none",
                REDIS_URL=redis_url,
                MODERATION_REDIS_PREFIX=prefix,
            )
            with (tmp_path / f"{name}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        _instruction("CMD"), env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            ports.append(port)
        for proc, port, name in zip(procs, ports, ("moderation", "moderation-2"), strict=True):
            _wait_ready(proc, port, tmp_path / f"{name}.log")
        login = httpx.post(
            f"http://127.0.0.1:{ports[0]}/v1/session",
            json={"user": "admin", "password": password},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        # Production cookies are Secure (__Host-), which a client keeps for https; sent by hand here.
        cookie = login.headers["set-cookie"].split(";", 1)[0]
        for port in ports:
            queue = httpx.get(f"http://127.0.0.1:{port}/v1/review", headers={"Cookie": cookie}, timeout=30)
            assert queue.status_code == 200, (port, queue.text)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)
        delete_keys_under(redis_url, prefix)


def _wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline, answer = time.monotonic() + 120, None
    while True:
        assert proc.poll() is None, f"the CMD exited:\n{log.read_text()}"
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, (
            f"not ready in 120 s ({answer and answer.text}):\n{log.read_text()}"
        )
        time.sleep(0.3)
