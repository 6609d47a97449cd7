"""Settings: one class, read from the environment (prefix MODERATION_, plus REDIS_URL)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The rules shipped with the code (policy and word lists). A deployment points MODERATION_RULES_DIR elsewhere.
DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODERATION_",
        env_ignore_empty=True,
        case_sensitive=False,
        extra="ignore",
    )

    ENVIRONMENT: Literal["development", "production"] = "development"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    #: A Detoxify model name (original, unbiased, multilingual, original-small, unbiased-small) or "none".
    MODEL: str = "unbiased"
    #: A local folder with a Detoxify checkpoint plus its Hugging Face config and tokenizer files.
    MODEL_PATH: Path | None = None
    #: Threads PyTorch may use for inference; 0 means one per CPU core.
    MODEL_THREADS: int = Field(default=0, ge=0)

    RULES_DIR: Path = DEFAULT_RULES_DIR
    #: The policy file; defaults to RULES_DIR/policy.yaml.
    POLICY_FILE: Path | None = None

    #: Unset: verdicts are cached in process memory (fine for one process, lost on restart).
    REDIS_URL: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "MODERATION_REDIS_URL"))
    REDIS_PREFIX: str = "moderation:"
    CACHE_TTL_S: int = Field(default=24 * 3600, ge=1)

    MAX_CHARS: int = Field(default=10_000, ge=1)
    MAX_BATCH: int = Field(default=100, ge=1)

    @field_validator("MODEL")
    @classmethod
    def _model_lower(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def policy_file(self) -> Path:
        return self.POLICY_FILE or self.RULES_DIR / "policy.yaml"

    @property
    def model_threads(self) -> int:
        return self.MODEL_THREADS or (os.cpu_count() or 1)

    @property
    def max_body_bytes(self) -> int:
        # Worst case of a full batch of maximum-length comments, each character escaped as \uXXXX (6 bytes)
        # with a surrogate pair (x2), plus room for the other fields. Anything larger cannot be valid.
        return self.MAX_BATCH * (self.MAX_CHARS * 12 + 4096) + 4096


@lru_cache
def get_settings() -> Settings:
    return Settings()
