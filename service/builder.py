"""One recipe, from Settings, for what every door judges with: policy, word lists, model, decision log, pipeline.

The app's lifespan, `moderation rescore` and each of its worker processes and Ray actors build through these
functions, so the same text under the same MODERATION_MODEL / MODERATION_MODEL_PATH / RULES_DIR gets the same
verdict whichever door it came in by. No web framework here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from service.config import Settings
from service.moderation.batcher import BatchObserver, MicroBatcher
from service.moderation.decisions import DecisionLog
from service.moderation.pipeline import Pipeline
from service.moderation.policy import Policy, load_policy
from service.moderation.toxicity import Scorer, load_scorer
from service.moderation.wordlist import WordListWatcher
from service.store.base import Store
from service.store.keys import Keys

log = logging.getLogger("service")


def load_rules(settings: Settings, *, watch: bool = True) -> tuple[Policy, WordListWatcher]:
    """The policy and the word lists. `watch=False` pins the word lists as loaded now (a batch run must not
    change rules halfway through). Raises PolicyError or WordListError."""
    policy = load_policy(settings.policy_file)
    log.info("policy %s loaded from %s", policy.version, settings.policy_file)
    wordlists = WordListWatcher(settings.RULES_DIR, **({} if watch else {"min_interval_s": float("inf")}))
    log.info("word lists loaded from %s (version %s)", settings.RULES_DIR / "wordlist", wordlists.current().version)
    return policy, wordlists


def load_model(settings: Settings, threads: int | None = None) -> Scorer:
    """The toxicity scorer named by Settings (blocking). Raises ModelLoadError."""
    threads = threads or settings.model_threads
    scorer = load_scorer(settings.MODEL, settings.MODEL_PATH, threads, window_overlap=settings.WINDOW_OVERLAP)
    if scorer.model_id == "none":
        log.warning(
            "*** MODERATION_MODEL=none: the toxicity model is OFF. Verdicts come from the word list alone "
            "and every verdict says model_consulted=false. Insults and threats without listed words will be "
            "ACCEPTED. ***"
        )
    else:
        log.info("model %s loaded (%d threads), categories: %s", scorer.model_id, threads,
                 ", ".join(scorer.categories))
    return scorer


def warn_missing_categories(policy: Policy, scorer: Scorer) -> None:
    missing = [c for c in policy.categories if scorer.model_id != "none" and c not in scorer.categories]
    if missing:
        log.warning("policy categories the model does not produce (skipped): %s", ", ".join(missing))


def decision_log(
    settings: Settings, store: Store, *, on_final: Callable[[dict[str, Any]], None] | None = None
) -> DecisionLog:
    return DecisionLog(
        store,
        Keys(settings.REDIS_PREFIX),
        max_entries=settings.LOG_MAX_ENTRIES,
        retention_s=settings.LOG_RETENTION_DAYS * 86_400,
        on_final=on_final,
    )


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
    policy: Policy,
    wordlists: WordListWatcher,
    scorer: Scorer,
    store: Store,
    decisions: DecisionLog | None = None,
    observer: BatchObserver | None = None,
    cache: bool = True,
) -> Pipeline:
    """The pipeline every door uses; `decisions=None` records nothing, `cache=False` skips the verdict cache."""
    return Pipeline(
        policy=policy,
        wordlists=wordlists,
        scorer=scorer,
        store=store,
        keys=Keys(settings.REDIS_PREFIX),
        cache_ttl_s=settings.CACHE_TTL_S,
        decisions=decisions,
        batcher=batcher(settings, scorer, observer=observer),
        cache=cache,
    )
