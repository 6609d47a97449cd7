"""Settings for tests: the embedded defaults, quiet logs, no Redis unless a test asks for one."""

from __future__ import annotations

from typing import Any

from service.config import Settings


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"MODEL": "unbiased", "REDIS_URL": None, "LOG_LEVEL": "WARNING"}
    base.update(overrides)
    return Settings(**base)
