"""The shipped policy, loaded and as raw data to change, for the policy tests (test_policy, test_ambiguous)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from service.moderation.policy import Policy, load_policy

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(RULES / "policy.yaml")


@pytest.fixture
def raw() -> dict:
    """The shipped policy.yaml's data, for a test to change and write back with `write_policy`."""
    return yaml.safe_load((RULES / "policy.yaml").read_text())


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[dict], Path]:
    """Writes policy data to a policy.yaml in the test's folder and returns its path."""

    def write(data: dict) -> Path:
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
