"""One recipe, from Settings, for what every door judges with: policy, word lists, model, decision log, pipeline.

The app's lifespan, `moderation serve`, `moderation rescore` and each of its worker processes and Ray actors
build through these functions, so the same text under the same MODERATION_MODEL / MODERATION_MODEL_PATH /
RULES_DIR gets the same verdict whichever door it came in by. No web framework here.

Whatever keeps the service from starting as configured (a broken policy or word list, model weights that do
not load; outside development a guessable admin password, a missing or short session secret, a webhook that
is not https or whose secret is short; a webhook without its secret; an API key file that cannot be read or
that others may write; outside development, no REDIS_URL without MODERATION_ALLOW_MEMORY_STORE) becomes
`StartupError`,
whose message is one paragraph naming the cause and its remedies: `moderation serve` prints it and exits
without a traceback (the traceback goes to the DEBUG log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from service.auth import AdminAuth, AuthConfigError, LoginLimiter, Sessions, secret_problem
from service.config import ExposureConfigError, Settings, StoreConfigError
from service.model.base import NO_MODEL, ModelLoadError, Scorer
from service.model.batcher import BatchObserver, MicroBatcher
from service.model.loader import load_scorer
from service.moderation.pipeline import Pipeline
from service.moderation.policy import Policy, PolicyError
from service.moderation.rules import RulesWatcher
from service.review.journal import Journal, JournalError, deployment_directory
from service.review.log import DecisionLog
from service.review.models import PendingRecord
from service.review.outbox import OutboxWorker
from service.review.suggestions import SuggestionLog
from service.review.webhook import WebhookConfigError, WebhookSender
from service.sites.registry import SiteKeys, key_storage
from service.store import open_store as _open_store
from service.store.base import Store
from service.store.keyfile import KeyFile, KeyFileError
from service.store.memory import MemoryStore
from service.store.outbox import MemoryOutbox, Outbox, RedisOutbox
from service.store.redis import RedisStore, mask_url
from service.wordlist.language import LanguageOptions, Languages
from service.wordlist.rules import WordListError

log = logging.getLogger("service")

#: The configuration problems that keep the service from starting (each says what to change).
CONFIGURATION_ERRORS: tuple[type[Exception], ...] = (
    PolicyError,
    WordListError,
    ModelLoadError,
    AuthConfigError,
    WebhookConfigError,
    ExposureConfigError,
    KeyFileError,
    StoreConfigError,
)


class StartupError(Exception):
    """The service cannot start as configured; `str()` is the paragraph to print (cause and remedies)."""

    def __str__(self) -> str:
        return f"cannot start: {self.args[0]}"


@dataclass
class Components:
    """What the app runs on that is loaded synchronously from Settings (seconds to minutes for the model)."""

    auth: AdminAuth
    webhook: WebhookSender | None
    rules: RulesWatcher
    scorer: Scorer


def load_components(settings: Settings, *, scorer: Scorer | None = None) -> Components:
    """Everything the app needs before it can answer; `scorer` replaces model loading (tests). Raises
    `StartupError` for a configuration that cannot run."""
    try:
        # First: refusing to start for want of a real admin password should not wait for a model load.
        auth = AdminAuth.from_settings(settings)
        webhook = webhook_sender(settings)
        settings.check_exposure()
        settings.check_store()
        if settings.KEYS_FILE is not None:
            KeyFile(settings.KEYS_FILE).check()
        rules = load_rules(settings)
        scorer = scorer or load_model(settings)
    except CONFIGURATION_ERRORS as exc:
        raise StartupError(str(exc)) from exc
    warn_missing_categories(rules.current().policy, scorer)
    return Components(auth=auth, webhook=webhook, rules=rules, scorer=scorer)


def webhook_sender(settings: Settings) -> WebhookSender | None:
    """The sender configured by `settings`, or None when no webhook URL is set. Raises WebhookConfigError.

    Outside development the URL must be https (the deliveries say who decided what, and an http one could
    be read or changed on the way) and the secret at least SECRET_MIN_BYTES bytes and unguessable (a
    receiver trusts whatever it signs)."""
    url = settings.WEBHOOK_URL
    if not url:
        return None
    production = settings.ENVIRONMENT != "development"
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise WebhookConfigError(
            f"MODERATION_WEBHOOK_URL must be an http(s) URL with a host, got {mask_url(url)!r}"
        )
    if scheme != "https" and production:
        raise WebhookConfigError(
            f"MODERATION_WEBHOOK_URL is {scheme}:// but only https:// is accepted outside development: the "
            f"deliveries would travel unencrypted. Give the receiver a TLS address (e.g. behind its reverse "
            f"proxy) and set MODERATION_WEBHOOK_URL to its https:// URL"
        )
    if not settings.WEBHOOK_SECRET:
        raise WebhookConfigError(
            "MODERATION_WEBHOOK_URL is set but MODERATION_WEBHOOK_SECRET is not: deliveries must be signed"
        )
    problem = secret_problem("MODERATION_WEBHOOK_SECRET", settings.WEBHOOK_SECRET, settings.SECRET_MIN_BYTES)
    if problem and production:
        raise WebhookConfigError(
            f"{problem}. Outside development deliveries are signed with a random secret of at least "
            f"{settings.SECRET_MIN_BYTES} bytes, which the receiver can trust: generate one with `python -c "
            f"'import secrets; print(secrets.token_urlsafe(32))'` and set it as MODERATION_WEBHOOK_SECRET here "
            f"and in the receiver"
        )
    if problem:
        log.warning("%s; accepted only because MODERATION_ENVIRONMENT=development", problem)
    return WebhookSender(
        url,
        settings.WEBHOOK_SECRET,
        max_attempts=settings.WEBHOOK_MAX_ATTEMPTS,
        backoff_s=settings.WEBHOOK_BACKOFF_S,
        backoff_max_s=settings.WEBHOOK_BACKOFF_MAX_S,
        timeout_s=settings.WEBHOOK_TIMEOUT_S,
    )


def webhook_outbox(settings: Settings) -> Outbox:
    """The webhook outbox: a Redis Stream at REDIS_URL under REDIS_PREFIX, or process memory (lost on
    restart) without REDIS_URL. Connects lazily."""
    if settings.REDIS_URL:
        return RedisOutbox.from_url(
            settings.REDIS_URL,
            prefix=settings.REDIS_PREFIX,
            max_entries=settings.WEBHOOK_OUTBOX_MAX,
            dead_max=settings.WEBHOOK_DEAD_LETTER_MAX,
        )
    log.warning(
        "webhook outbox in process memory (no REDIS_URL): deliveries not yet made are lost on restart"
    )
    return MemoryOutbox(max_entries=settings.WEBHOOK_OUTBOX_MAX, dead_max=settings.WEBHOOK_DEAD_LETTER_MAX)


def outbox_worker(settings: Settings, sender: WebhookSender, outbox: Outbox | None = None) -> OutboxWorker:
    """The delivery worker for `sender` on the outbox (`webhook_outbox(settings)` unless given); start it
    with `start()` in the running loop, stop it with `aclose()` (which closes the sender and the outbox)."""
    return OutboxWorker(
        outbox or webhook_outbox(settings),
        sender,
        claim_idle_s=settings.WEBHOOK_CLAIM_IDLE_S,
        poll_s=settings.WEBHOOK_POLL_S,
        concurrency=settings.WEBHOOK_CONCURRENCY,
    )


def load_rules(settings: Settings) -> RulesWatcher:
    """The policy and the word lists, loaded now (blocking). They stay as loaded unless the watcher's
    `watch()` runs (the app's lifespan starts it: reloads off the request path; a batch run does not, as it
    must not change rules halfway through). Raises PolicyError or WordListError."""
    rules = RulesWatcher(
        settings.RULES_DIR,
        settings.policy_file,
        poll_s=settings.RULES_RELOAD_POLL_S,
        debounce_s=settings.RULES_RELOAD_DEBOUNCE_S,
    )
    current = rules.current()
    log.info("policy %s loaded from %s", current.policy.version, settings.policy_file)
    log.info(
        "word lists loaded from %s (version %s)", settings.RULES_DIR / "wordlist", current.wordlist.version
    )
    return rules


def load_model(settings: Settings, threads: int | None = None) -> Scorer:
    """The toxicity scorer named by Settings (blocking). Raises ModelLoadError."""
    threads = threads or settings.model_threads
    scorer = load_scorer(settings.MODEL, settings.MODEL_PATH, threads, window_overlap=settings.WINDOW_OVERLAP)
    if scorer.model_id == NO_MODEL:
        log.warning(
            "*** MODERATION_MODEL=none: the toxicity model is OFF. Verdicts come from the word list alone "
            "and every verdict says model_consulted=false. Insults and threats without listed words will be "
            "ACCEPTED. ***"
        )
    else:
        log.info(
            "model %s loaded (%d threads), categories: %s",
            scorer.model_id,
            threads,
            ", ".join(scorer.categories),
        )
    return scorer


def warn_missing_categories(policy: Policy, scorer: Scorer) -> None:
    missing = [c for c in policy.categories if scorer.model_id != NO_MODEL and c not in scorer.categories]
    if missing:
        log.warning("policy categories the model does not produce (skipped): %s", ", ".join(missing))


def open_store(settings: Settings) -> Store:
    """The one store the app wires to both the pipeline's cache and the decision log: Redis at REDIS_URL
    under REDIS_PREFIX, or process memory without REDIS_URL. Connects lazily."""
    return _open_store(
        settings.REDIS_URL, prefix=settings.REDIS_PREFIX, memory_max_held=settings.MEMORY_MAX_HELD
    )


def sessions(auth: AdminAuth, store: Store) -> Sessions:
    """Moderators' sessions, kept on `store` (open it with `open_store(settings)`), so that every worker and
    instance on one Redis shares them and a logout ends them everywhere."""
    return Sessions(auth, store)


def login_limiter(settings: Settings, auth: AdminAuth) -> LoginLimiter:
    """The login attempts' limits (read from Settings by `AdminAuth.from_settings`), counted in Redis at
    REDIS_URL under the deployment's prefix, or in process memory. Connects lazily; close it with
    `aclose()`."""
    return LoginLimiter.from_settings(settings, auth)


def decision_log(
    settings: Settings, store: Store, *, on_final: Callable[[dict[str, Any]], object] | None = None
) -> DecisionLog:
    """The decision log on `store` (open it with `open_store(settings)`: under this deployment's prefix)."""
    return DecisionLog(
        store,
        max_entries=settings.LOG_MAX_ENTRIES,
        retention_s=settings.LOG_RETENTION_DAYS * 86_400,
        on_final=on_final,
        max_text_chars=settings.LOG_TEXT_MAX_CHARS,
        queue_limit=settings.REVIEW_QUEUE_MAX,
        overflow_limit=settings.REVIEW_OVERFLOW_MAX,
    )


def suggestion_log(settings: Settings) -> tuple[SuggestionLog, Store]:
    """Suggested scores (Perspective's comments:suggestscore) in a capped log of their own: a store under the
    deployment's prefix plus "suggestions:" (Redis at REDIS_URL, or process memory), whose log is theirs
    alone. Returns the log and its store, which the caller closes. Connects lazily."""
    # Not through open_store, whose log lines speak of the verdict cache.
    store: Store = (
        RedisStore.from_url(settings.REDIS_URL, prefix=f"{settings.REDIS_PREFIX}suggestions:")
        if settings.REDIS_URL
        else MemoryStore(max_entries=settings.SUGGESTIONS_MAX)
    )
    suggestions = SuggestionLog(
        store,
        max_entries=settings.SUGGESTIONS_MAX,
        retention_s=settings.LOG_RETENTION_DAYS * 86_400,
        max_text_chars=settings.LOG_TEXT_MAX_CHARS,
    )
    return suggestions, store


def batcher(settings: Settings, scorer: Scorer, *, observer: BatchObserver | None = None) -> MicroBatcher:
    return MicroBatcher(
        scorer.score,
        max_batch_size=settings.BATCH_MAX_SIZE,
        max_wait_s=settings.BATCH_MAX_WAIT_MS / 1000,
        queue_max=settings.QUEUE_MAX,
        retry_after_s=settings.RETRY_AFTER_S,
        observer=observer,
    )


def pipeline(
    settings: Settings,
    *,
    rules: RulesWatcher,
    scorer: Scorer,
    store: Store,
    decisions: DecisionLog | None = None,
    observer: BatchObserver | None = None,
    cache: bool = True,
    journal: Journal[PendingRecord] | None = None,
) -> Pipeline:
    """The pipeline every door uses; `decisions=None` records nothing, `cache=False` skips the verdict cache
    (`store`, opened with `open_store(settings)`). Its matching threads stop with `Pipeline.close()`."""
    built = Pipeline(
        rules=rules,
        scorer=scorer,
        store=store,
        cache_ttl_s=settings.CACHE_TTL_S,
        decisions=decisions,
        batcher=batcher(settings, scorer, observer=observer),
        matching=ThreadPoolExecutor(max_workers=settings.MATCH_THREADS, thread_name_prefix="match"),
        max_matches=settings.MAX_MATCHES,
        max_reasons=settings.MAX_REASONS,
        cache=cache,
        journal=journal,
        languages=Languages(LanguageOptions.from_settings(settings)),
    )
    # The language detector loads in a matching thread now rather than with the first comment needing it.
    built.matching.submit(built.languages.warm)
    return built


# -- API keys per site (issue 13) ---------------------------------------------------------------------------


def site_keys(settings: Settings, store: Store) -> SiteKeys:
    """The sites' API keys the scoring doors check: in MODERATION_KEYS_FILE when it is set, else on `store`
    (open it with `open_store(settings)`: Redis, where `moderation keys` makes them, or process memory)."""
    storage = key_storage(settings, store) or store
    if settings.require_api_key and settings.KEYS_FILE is None and not settings.REDIS_URL:
        log.warning(
            "API keys are required (MODERATION_REQUIRE_API_KEY, on in production) but kept in process memory, "
            "where `moderation keys` cannot make any: every scoring request will be refused. Set REDIS_URL or "
            "MODERATION_KEYS_FILE"
        )
    log.info(
        "API keys: %s, kept in %s",
        "required at every scoring door"
        if settings.require_api_key
        else "optional (anonymous requests allowed)",
        storage.describe(),
    )
    return SiteKeys(storage)


# -- outage journal (issue 12) ------------------------------------------------------------------------------


def open_journal(settings: Settings) -> Journal[PendingRecord] | None:
    """The outage journal of this deployment (blocking: run it in a thread), with what an earlier process
    left in it loaded; None without Redis (the memory store is never down) or with MODERATION_JOURNAL off.
    Raises StartupError when its directory cannot be made or used. Run its `replay` as a task (see app.py)
    and `close()` it (blocking) after stopping that."""
    if not settings.JOURNAL or not settings.REDIS_URL:
        return None
    base = deployment_directory(settings.DATA_DIR, settings.REDIS_PREFIX)
    try:
        journal: Journal[PendingRecord] = Journal.open(
            base,
            decode=PendingRecord.from_json,
            key=_comment_of,
            max_records=settings.JOURNAL_MAX_RECORDS,
            max_bytes=settings.JOURNAL_MAX_BYTES,
            group_ms=settings.JOURNAL_FSYNC_MS,
            group_records=settings.JOURNAL_FSYNC_RECORDS,
        )
    except JournalError as exc:
        raise StartupError(
            f"{exc}. The outage journal keeps decision records while Redis is down: point MODERATION_DATA_DIR "
            f"at a directory this user may write (a persistent volume), or set MODERATION_JOURNAL=false to "
            f"drop such records instead"
        ) from exc
    log.info("outage journal: %s (%d record(s) waiting)", journal.directory, journal.depth().records)
    return journal


def _comment_of(record: PendingRecord) -> str | None:
    """Replay never writes two records of one comment at once."""
    return record.comment.id
