"""Request and response bodies of the public API (the verdict itself is the domain's `Verdict`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.moderation.types import Verdict


class CommentIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"text": "What a thoughtful article.", "id": "c-1001", "article_id": "a-42"}]
        },
    )

    text: str = Field(
        description="The comment as the commenter wrote it (at most MODERATION_MAX_CHARS characters)."
    )
    id: str | None = Field(
        default=None, max_length=200, description="Your id for the comment; generated if absent."
    )
    article_id: str | None = Field(default=None, max_length=200)
    author_id: str | None = Field(default=None, max_length=200)
    lang: str | None = Field(default=None, max_length=35, description="BCP 47 language tag, if known.")


class BatchIn(BaseModel):
    comments: list[CommentIn] = Field(description="One to MODERATION_MAX_BATCH (default 100) comments.")


class BatchOut(BaseModel):
    results: list[Verdict] = Field(description="One verdict per comment, in the order they were sent.")


class Health(BaseModel):
    status: str


class ReadyCheck(BaseModel):
    ok: bool
    detail: str


class Ready(BaseModel):
    status: str = Field(description="'ready' or 'not ready'")
    checks: dict[str, ReadyCheck] | None = Field(
        default=None, description="Each part's state; only with the metrics token (MODERATION_METRICS_TOKEN)."
    )
