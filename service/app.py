"""create_app(settings) and the lifespan that loads the policy, the word lists, the model and the store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import health, moderate
from service.api.errors import BodyGuard, install_error_handlers
from service.config import Settings, get_settings
from service.moderation.pipeline import Pipeline
from service.moderation.policy import PolicyError, load_policy
from service.moderation.toxicity import ModelLoadError, Scorer, load_scorer
from service.moderation.wordlist import WordListError, WordListWatcher
from service.store import open_store
from service.store.keys import Keys

log = logging.getLogger("service")


def _configure_logging(level: str) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("service").setLevel(level)


def _load_model(settings: Settings) -> Scorer:
    scorer = load_scorer(settings.MODEL, settings.MODEL_PATH, settings.model_threads)
    if scorer.model_id == "none":
        log.warning(
            "*** MODERATION_MODEL=none: the toxicity model is OFF. Verdicts come from the word list alone "
            "and every verdict says model_consulted=false. Insults and threats without listed words will be "
            "ACCEPTED. ***"
        )
    else:
        log.info("model %s loaded (%d threads), categories: %s", scorer.model_id, settings.model_threads,
                 ", ".join(scorer.categories))
    return scorer


def create_app(settings: Settings | None = None, *, scorer: Scorer | None = None) -> FastAPI:
    """Build the app. `scorer` replaces model loading (tests use a deterministic one); everything else is real."""
    settings = settings or get_settings()
    _configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            policy = load_policy(settings.policy_file)
            log.info("policy %s loaded from %s", policy.version, settings.policy_file)
            wordlists = WordListWatcher(settings.RULES_DIR)
            log.info("word lists loaded from %s (version %s)", settings.RULES_DIR / "wordlist",
                     wordlists.current().version)
            model = scorer or _load_model(settings)
        except (PolicyError, WordListError, ModelLoadError) as exc:
            # Said once, plainly, before uvicorn prints the traceback and exits.
            log.critical("cannot start: %s", exc)
            raise
        missing = [c for c in policy.categories if model.model_id != "none" and c not in model.categories]
        if missing:
            log.warning("policy categories the model does not produce (skipped): %s", ", ".join(missing))
        store = open_store(settings.REDIS_URL)
        if store.kind == "redis":
            up = await store.ping()
            log.info("verdict cache: %s (%s)", store.describe(), "answering" if up else "NOT answering yet")
        pipeline = Pipeline(
            policy=policy,
            wordlists=wordlists,
            scorer=model,
            store=store,
            keys=Keys(settings.REDIS_PREFIX),
            cache_ttl_s=settings.CACHE_TTL_S,
        )
        app.state.settings = settings
        app.state.pipeline = pipeline
        try:
            yield
        finally:
            pipeline.close()
            await store.aclose()

    app = FastAPI(
        title="Comment moderation",
        version="0.1.0",
        summary="Accept, review or reject comments against the site's notice, with reasons.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(moderate.router)
    app.include_router(health.router)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)
    return app
