"""service/runtime.py: what the service runs on, built from Settings, and the start that cannot happen."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import runtime
from service.auth import AuthConfigError
from service.config import StoreConfigError
from service.model.base import ModelLoadError
from service.moderation.policy import PolicyError
from service.review.webhook import WebhookConfigError
from service.store.memory import MemoryStore
from service.wordlist.rules import WordListError
from tests.support.admin import ADMIN_PASSWORD
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings


def test_components_are_loaded_from_settings() -> None:
    scorer = MarkerScorer()
    loaded = runtime.load_components(make_settings(ADMIN_PASSWORD=ADMIN_PASSWORD), scorer=scorer)
    assert loaded.scorer is scorer and loaded.webhook is None
    assert loaded.policy.version and loaded.wordlists.current().version
    assert loaded.auth.check_login("admin", ADMIN_PASSWORD)


#: A production configuration that starts: an unguessable password and a random secret of 32+ bytes.
PRODUCTION = {
    "ENVIRONMENT": "production",
    "ADMIN_PASSWORD": ADMIN_PASSWORD,
    "SESSION_SECRET": "R2kC6yq0mT8cXn3vJb5Wf9Lp1Hs7Ge4dZa-Qo_uYiK",
    "ALLOWED_HOSTS": ["comments.example.org"],
    "REDIS_URL": "redis://127.0.0.1:1/0",  # never connected here: only where moderators' work would be kept
}
WEBHOOK_SECRET = "n4Vb8-Kq2sXw9Lm3Rt7Yc1Hd6Jf5Gp0Za_Ue-Oi"


@pytest.mark.parametrize(
    ("overrides", "cause", "says"),
    [
        ({"POLICY_FILE": "/nonexistent/policy.yaml"}, PolicyError, "/nonexistent/policy.yaml"),
        ({"RULES_DIR": "/nonexistent-rules", "POLICY_FILE": None}, PolicyError, "/nonexistent-rules"),
        ({**PRODUCTION, "ADMIN_PASSWORD": "changeme"}, AuthConfigError, "too easy to guess"),
        ({**PRODUCTION, "ADMIN_PASSWORD": "Password1234"}, AuthConfigError, "too easy to guess"),
        ({**PRODUCTION, "ADMIN_PASSWORD": " " * 12}, AuthConfigError, "too easy to guess"),
        ({**PRODUCTION, "SESSION_SECRET": None}, AuthConfigError, "MODERATION_SESSION_SECRET is not set"),
        ({**PRODUCTION, "SESSION_SECRET": "s"}, AuthConfigError, "MODERATION_SESSION_SECRET is 1 bytes"),
        ({**PRODUCTION, "LOGIN_LIMIT_PER_IP": "often"}, AuthConfigError, "'10/minute;60/hour'"),
        ({"WEBHOOK_URL": "https://example.org/hook"}, WebhookConfigError, "MODERATION_WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "ftp://example.org/hook", "WEBHOOK_SECRET": "s"}, WebhookConfigError, "http(s)"),
        (
            {**PRODUCTION, "WEBHOOK_URL": "http://example.org/hook", "WEBHOOK_SECRET": WEBHOOK_SECRET},
            WebhookConfigError,
            "only https:// is accepted",
        ),
        (
            {**PRODUCTION, "WEBHOOK_URL": "https://example.org/hook", "WEBHOOK_SECRET": "s"},
            WebhookConfigError,
            "MODERATION_WEBHOOK_SECRET is 1 bytes long; at least 32",
        ),
        ({"MODEL": "unbiased", "MODEL_PATH": "/nonexistent-model"}, ModelLoadError, "Remedies"),
    ],
)
def test_a_configuration_that_cannot_run_is_one_startup_error(
    overrides: dict[str, object], cause: type[Exception], says: str
) -> None:
    settings = make_settings(**overrides)
    scorer = None if "MODEL_PATH" in overrides else MarkerScorer()
    with pytest.raises(runtime.StartupError) as raised:
        runtime.load_components(settings, scorer=scorer)
    assert isinstance(raised.value.__cause__, cause)
    message = str(raised.value)
    assert message.startswith("cannot start: ") and says in message


def test_a_production_configuration_with_strong_secrets_starts() -> None:
    settings = make_settings(
        **PRODUCTION, WEBHOOK_URL="https://example.org/hook", WEBHOOK_SECRET=WEBHOOK_SECRET
    )
    loaded = runtime.load_components(settings, scorer=MarkerScorer())
    assert loaded.auth.secure_cookies and loaded.webhook is not None


def test_production_without_redis_needs_the_memory_store_allowed_in_so_many_words() -> None:
    without_redis = {**PRODUCTION, "REDIS_URL": None}
    with pytest.raises(runtime.StartupError) as raised:
        runtime.load_components(make_settings(**without_redis), scorer=MarkerScorer())
    assert isinstance(raised.value.__cause__, StoreConfigError)
    message = str(raised.value)
    assert (
        message.startswith("cannot start: REDIS_URL is not set")
        and "MODERATION_ALLOW_MEMORY_STORE=true" in message
    )
    allowed = make_settings(**without_redis, ALLOW_MEMORY_STORE=True, MEMORY_MAX_HELD=500)
    runtime.load_components(allowed, scorer=MarkerScorer())
    store = runtime.open_store(allowed)
    assert isinstance(store, MemoryStore) and store.max_held == 500
    runtime.load_components(make_settings(REDIS_URL=None), scorer=MarkerScorer())  # development: as ever


def test_broken_word_lists_stop_the_start(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "wordlist").mkdir(parents=True)
    (rules / "policy.yaml").write_bytes(
        (Path(__file__).resolve().parent.parent / "rules" / "policy.yaml").read_bytes()
    )
    (rules / "wordlist" / "site-block.txt").write_text("[reject nonsense]\nword\n", "utf-8")
    with pytest.raises(runtime.StartupError) as raised:
        runtime.load_components(make_settings(RULES_DIR=rules), scorer=MarkerScorer())
    assert isinstance(raised.value.__cause__, WordListError) and "site-block.txt:1" in str(raised.value)


@pytest.mark.anyio
async def test_the_store_follows_redis_url_and_the_prefix(redis_url: str, key_prefix: str) -> None:
    memory = runtime.open_store(make_settings(REDIS_URL=None))
    redis = runtime.open_store(make_settings(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix))
    try:
        assert isinstance(memory, MemoryStore) and redis.kind == "redis"
        await redis.set_status("c-1", {"status": "accepted"}, ttl_s=60)
        # The deployment's prefix is the store's own: a second store on another prefix sees nothing.
        other = runtime.open_store(make_settings(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix + "other:"))
        try:
            assert await other.get_status("c-1") is None
            assert (await redis.get_status("c-1") or {})["status"] == "accepted"
        finally:
            await other.aclose()
    finally:
        await redis.aclose()
        await memory.aclose()
