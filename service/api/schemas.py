"""Request and response bodies of the public API (the verdict itself is the domain's `Verdict`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from service.moderation.types import (
    COMMENT_ID_MAX_CHARS,
    COMMENT_ID_PATTERN,
    COMMENT_ID_RULE,
    LANG_TAG_PATTERN,
    LANG_TAG_RULE,
    Verdict,
    is_comment_id,
    primary_language,
)


def check_lang(value: str | None) -> str | None:
    """A request's `lang` as sent, or a validation error naming LANG_TAG_RULE."""
    if value is not None and primary_language(value) is None:
        raise PydanticCustomError("lang", LANG_TAG_RULE)
    return value


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
        default=None,
        description=(
            "Your id for the comment; generated if absent. 1 to 128 characters from A-Z a-z 0-9 . _ : - with "
            "no two dots in a row and not only dots. The first request with an id owns its status: another "
            "text under the same id is refused with 409 id_conflict."
        ),
        # Declared for the OpenAPI document; the check itself is `_safe_id`, whose message names the rule.
        json_schema_extra={"pattern": f"^{COMMENT_ID_PATTERN}$", "maxLength": COMMENT_ID_MAX_CHARS},
    )
    article_id: str | None = Field(default=None, max_length=200)
    author_id: str | None = Field(default=None, max_length=200)
    lang: str | None = Field(
        default=None,
        max_length=35,
        description=(
            "BCP 47 language tag, if known ('de', 'pt-BR'). In a language other than English only listed terms "
            "written out as whole words count; without it the language is detected when the word list matches."
        ),
        json_schema_extra={"pattern": f"^{LANG_TAG_PATTERN}$"},
    )

    @field_validator("lang")
    @classmethod
    def _lang_tag(cls, value: str | None) -> str | None:
        return check_lang(value)

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        # Ids become path segments of the dashboard's URLs and parts of store keys (see COMMENT_ID_PATTERN).
        if value is not None and not is_comment_id(value):
            raise PydanticCustomError("comment_id", COMMENT_ID_RULE)
        return value


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
