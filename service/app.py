"""create_app(settings) and the lifespan that loads the policy, the word lists, the model and the store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import comments, dashboard, health, metrics, moderate, review, session
from service.api.auth import AdminAuth, AuthConfigError
from service.api.errors import BodyGuard, install_error_handlers
from service import builder
from service.config import Settings, get_settings
from service.moderation.policy import PolicyError
from service.moderation.toxicity import ModelLoadError, Scorer
from service.moderation.wordlist import WordListError
from service.store import open_store
from service.webhook import WebhookConfigError, sender_from_settings

log = logging.getLogger("service")


def _configure_logging(level: str) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("service").setLevel(level)


def create_app(settings: Settings | None = None, *, scorer: Scorer | None = None) -> FastAPI:
    """Build the app. `scorer` replaces model loading (tests use a deterministic one); everything else is real."""
    settings = settings or get_settings()
    _configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            # First: refusing to start for want of a real admin password should not wait for a model load.
            auth = AdminAuth.from_settings(settings)
            webhook = sender_from_settings(settings)
            policy, wordlists = builder.load_rules(settings)
            model = scorer or builder.load_model(settings)
        except (PolicyError, WordListError, ModelLoadError, AuthConfigError, WebhookConfigError) as exc:
            # Said once, plainly, before uvicorn prints the traceback and exits.
            log.critical("cannot start: %s", exc)
            raise
        builder.warn_missing_categories(policy, model)
        store = open_store(settings.REDIS_URL)
        if store.kind == "redis":
            up = await store.ping()
            log.info("verdict cache: %s (%s)", store.describe(), "answering" if up else "NOT answering yet")
        decisions = builder.decision_log(settings, store, on_final=webhook.send if webhook else None)
        pipeline = builder.pipeline(
            settings,
            policy=policy,
            wordlists=wordlists,
            scorer=model,
            store=store,
            decisions=decisions,
            observer=app.state.metrics.observe_batch,
        )
        app.state.settings = settings
        app.state.pipeline = pipeline
        app.state.metrics.watch(pipeline)
        app.state.decisions = decisions
        app.state.auth = auth
        app.state.webhook = webhook
        try:
            yield
        finally:
            pipeline.close()
            if webhook is not None:
                await webhook.aclose()
            await store.aclose()

    app = FastAPI(
        title="Comment moderation",
        version="0.1.0",
        summary="Accept, review or reject comments against the site's notice, with reasons.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics.ServiceMetrics()
    install_error_handlers(app)
    app.include_router(moderate.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(comments.router)
    app.include_router(review.router)
    app.include_router(session.router)
    app.include_router(dashboard.router)
    app.mount("/dashboard/static", dashboard.static_files, name="dashboard_static")
    app.add_exception_handler(dashboard.LoginRequired, dashboard.login_redirect)
    app.add_exception_handler(dashboard.CsrfRefused, dashboard.csrf_refused)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)
    return app
