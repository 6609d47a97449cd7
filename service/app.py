"""create_app(settings) and the lifespan that opens the store and builds the pipeline on loaded components.

Around the routes, outermost first: SecurityHeaders (service/api/surface.py), SiteCors (the widget's
CORS, service/api/cors.py), TrustedHosts and BodyGuard (service/api/errors.py); the OpenAPI document
declares each route's error answers (service/api/openapi.py).
/docs and /redoc exist in development only: FastAPI's pages load Swagger UI and ReDoc from a CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import runtime
from service.api import metrics
from service.api import routes as api
from service.api.cors import SiteCors
from service.api.errors import BodyGuard, TrustedHosts, install_error_handlers
from service.api.openapi import declare_error_responses
from service.api.precheck import PrecheckLimits
from service.api.surface import SecurityHeaders
from service.config import Settings, get_settings
from service.logs import configure_logging
from service.model.base import Scorer
from service.web import routes as dashboard

log = logging.getLogger("service")


def create_app(
    settings: Settings | None = None,
    *,
    scorer: Scorer | None = None,
    components: runtime.Components | None = None,
) -> FastAPI:
    """Build the app. `components` are what `moderation serve` loaded before starting the server (else the
    lifespan loads them); `scorer` replaces model loading (tests use a deterministic one)."""
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            loaded = components or runtime.load_components(settings, scorer=scorer)
        except runtime.StartupError as exc:
            log.critical("%s", exc)
            log.debug("startup failed", exc_info=True)
            raise
        store = runtime.open_store(settings)
        if store.kind == "redis":
            up = await store.ping()
            log.info("verdict cache: %s (%s)", store.describe(), "answering" if up else "NOT answering yet")
        if settings.METRICS_TOKEN is None and settings.ENVIRONMENT == "development":
            log.info(
                "/metrics and /readyz's details are open to every caller (development, no METRICS_TOKEN)"
            )
        # The webhook outbox (issue 12): decisions are written to it, and its worker delivers them.
        outbox = runtime.outbox_worker(settings, loaded.webhook) if loaded.webhook else None
        decisions = runtime.decision_log(settings, store, on_final=outbox.submit if outbox else None)
        # Outage journal (issue 12): records Redis cannot take wait on disk and are replayed in order.
        try:
            journal = await asyncio.to_thread(runtime.open_journal, settings)
        except runtime.StartupError as exc:
            log.critical("%s", exc)
            await store.aclose()
            raise
        replay = (
            asyncio.create_task(
                journal.replay(
                    decisions.write,
                    batch=settings.JOURNAL_REPLAY_BATCH,
                    retry_s=settings.JOURNAL_RETRY_MS / 1000,
                    concurrency=settings.JOURNAL_REPLAY_CONCURRENCY,
                ),
                name="journal-replay",
            )
            if journal is not None
            else None
        )
        pipeline = runtime.pipeline(
            settings,
            rules=loaded.rules,
            scorer=loaded.scorer,
            store=store,
            decisions=decisions,
            observer=app.state.metrics.observe_batch,
            journal=journal,
        )
        app.state.settings = settings
        app.state.pipeline = pipeline
        app.state.metrics.watch(pipeline)
        # Rules edits are rebuilt by this task in a thread of its own and swapped in when built (issue 12).
        app.state.rules = loaded.rules
        app.state.metrics.watch_rules(loaded.rules)
        reloading = asyncio.create_task(loaded.rules.watch(), name="rules-reload")
        app.state.decisions = decisions
        app.state.auth = loaded.auth
        app.state.webhook = loaded.webhook
        app.state.webhook_outbox = outbox
        app.state.metrics.watch_outbox(outbox)
        # Login hardening (issue 10): sessions on the same store, login attempts counted beside it.
        app.state.sessions = runtime.sessions(loaded.auth, store)
        app.state.login_limiter = login_limiter = runtime.login_limiter(settings, loaded.auth)
        # API keys per site (issue 13): what every scoring door checks (service/api/keys.py).
        app.state.site_keys = runtime.site_keys(settings, store)
        # Perspective's suggested scores (issue 13), in a capped store of their own.
        app.state.suggestions, suggestions_store = runtime.suggestion_log(settings)
        # The widget's pre-checks (issue 14), limited per client address and per site.
        app.state.precheck_limits = precheck_limits = PrecheckLimits(settings)
        if outbox is not None:
            outbox.start()
        try:
            yield
        finally:
            reloading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reloading
            if journal is not None and replay is not None:
                journal.stop()  # the batch being written is finished; the rest waits on disk
                done, _ = await asyncio.wait({replay}, timeout=settings.JOURNAL_RETRY_MS / 1000 + 5)
                if not done:
                    log.warning("journal replay did not stop in time; its batch is replayed at next start")
                    replay.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await replay
                await asyncio.to_thread(journal.close)
            await precheck_limits.aclose()
            await suggestions_store.aclose()
            await login_limiter.aclose()
            pipeline.close()
            if outbox is not None:
                await outbox.aclose()
            await store.aclose()

    development = settings.ENVIRONMENT == "development"
    app = FastAPI(
        title="Comment moderation",
        version="0.1.0",
        summary="Accept, review or reject comments against the site's notice, with reasons.",
        lifespan=lifespan,
        # Swagger UI and ReDoc run third-party scripts from a CDN on the dashboard's origin: development only.
        docs_url="/docs" if development else None,
        redoc_url="/redoc" if development else None,
    )
    app.state.settings = settings
    app.state.metrics = metrics.ServiceMetrics()
    install_error_handlers(app)
    app.include_router(api.router)
    dashboard.install(app)
    declare_error_responses(app)
    # The last added runs first: headers on every answer, then the Host, then the body.
    app.add_middleware(BodyGuard, rules=api.body_rules(settings), fallback=api.fallback_body_rule(settings))
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)
    # Which sites' pages may read the widget's answers; its preflights and refusals carry the headers below.
    app.add_middleware(SiteCors, origins=settings.CORS_ORIGINS)
    app.add_middleware(SecurityHeaders)
    return app
