"""Settings for tests: the embedded defaults, quiet logs, no Redis unless a test asks for one."""

from __future__ import annotations

import secrets
from typing import Any

from service.config import Settings


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"MODEL": "unbiased", "REDIS_URL": None, "LOG_LEVEL": "WARNING"}
    base.update(overrides)
    return Settings(**base)


def production_overrides(**extra: Any) -> dict[str, Any]:
    """What a production deployment must set to start: a strong password, a random session secret, the Host
    names to answer (the test client's), and (these tests run without Redis unless they give REDIS_URL) the
    memory store allowed; plus `extra`."""
    base: dict[str, Any] = {
        "ENVIRONMENT": "production",
        "ALLOW_MEMORY_STORE": True,
        "ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "SESSION_SECRET": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": ["testserver"],
    }
    base.update(extra)
    return base
