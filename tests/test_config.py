"""Settings: the numbers that are policy live here, and agree with the layers that have defaults of their own."""

import pytest

from service.config import Settings
from service.model.windows import DEFAULT_WINDOW_OVERLAP


def test_window_overlap_default_is_the_model_layers_own() -> None:
    # The model layer keeps its default for callers without Settings (export, pull); the two must agree.
    assert Settings().WINDOW_OVERLAP == DEFAULT_WINDOW_OVERLAP


def test_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_QUEUE_MAX", "")
    monkeypatch.setenv("REDIS_URL", "")
    settings = Settings()
    assert settings.QUEUE_MAX == 256 and settings.REDIS_URL is None


def test_out_of_range_numbers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_BATCH_MAX_SIZE", "0")
    with pytest.raises(ValueError, match="BATCH_MAX_SIZE"):
        Settings()


def test_teaching_the_word_list_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.TEACH_WHATIF_ENTRIES == 2_000 and settings.TEACH_TERM_MAX_CHARS == 60
    for name, value in (
        ("TEACH_WHATIF_ENTRIES", "0"),
        ("TEACH_TERM_MAX_CHARS", "500"),
        ("TEACH_FILE_MAX_BYTES", "1"),
    ):
        monkeypatch.setenv(f"MODERATION_{name}", value)
        with pytest.raises(ValueError, match=name):
            Settings()
        monkeypatch.delenv(f"MODERATION_{name}")
