"""The container can't be built here (no Docker engine), so its commands are run as they are written:
the Dockerfile's CMD starts the service and its HEALTHCHECK probes it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from service.model.demo import build_tiny_checkpoint
from tests.support.redis_server import free_port

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
    # Production (the image's environment) refuses to start without these: compose asks for them.
    environment = services["moderation"]["environment"]
    for name in ("MODERATION_ALLOWED_HOSTS", "MODERATION_ADMIN_PASSWORD", "MODERATION_SESSION_SECRET"):
        assert environment[name].startswith(f"${{{name}:?"), name
