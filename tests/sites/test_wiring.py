"""Settings and runtime for API keys: required by default in production only, a key file that cannot be used
stops the start, and a warning where required keys have nowhere a command can make them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service import runtime
from service.config import Settings
from service.store import KeyFile, MemoryStore
from tests.support.admin import ADMIN_PASSWORD
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings, production_overrides


@pytest.mark.parametrize(
    ("overrides", "required"),
    [
        ({}, False),
        (production_overrides(), True),
        ({"REQUIRE_API_KEY": True}, True),
        (production_overrides(REQUIRE_API_KEY=False), False),
    ],
)
def test_keys_are_required_by_default_in_production_only(overrides, required) -> None:
    assert make_settings(**overrides).require_api_key is required


def test_the_settings_are_read_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODERATION_REQUIRE_API_KEY", "true")
    monkeypatch.setenv("MODERATION_KEYS_FILE", str(tmp_path / "keys.json"))
    settings = Settings()
    assert settings.require_api_key is True and settings.KEYS_FILE == tmp_path / "keys.json"
    monkeypatch.setenv("MODERATION_REQUIRE_API_KEY", "")  # empty: unset (env_ignore_empty), the default
    assert Settings().REQUIRE_API_KEY is None


def test_a_key_file_that_cannot_be_used_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{}")
    path.chmod(0o600)
    settings = make_settings(KEYS_FILE=path, ADMIN_PASSWORD=ADMIN_PASSWORD)
    with pytest.raises(runtime.StartupError, match=r"cannot start: the API key file .* is not in the format"):
        runtime.load_components(settings, scorer=MarkerScorer())
    path.write_text('{"format": "moderation-api-keys/1", "keys": []}')
    path.chmod(0o664)
    with pytest.raises(runtime.StartupError, match="chmod 600"):
        runtime.load_components(settings, scorer=MarkerScorer())
    path.chmod(0o600)
    runtime.load_components(settings, scorer=MarkerScorer())


def test_the_keys_are_kept_where_settings_say(tmp_path: Path) -> None:
    store = MemoryStore()
    assert runtime.site_keys(make_settings(), store).store is store
    in_file = runtime.site_keys(make_settings(KEYS_FILE=tmp_path / "k.json"), store).store
    assert isinstance(in_file, KeyFile)


def test_required_keys_in_memory_are_warned_about(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="service"):
        runtime.site_keys(make_settings(REQUIRE_API_KEY=True), MemoryStore())
    assert "every scoring request will be refused" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="service"):
        runtime.site_keys(make_settings(REQUIRE_API_KEY=True, KEYS_FILE=tmp_path / "k.json"), MemoryStore())
        runtime.site_keys(make_settings(), MemoryStore())
    assert "refused" not in caplog.text
