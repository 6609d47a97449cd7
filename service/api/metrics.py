"""GET /metrics: Prometheus exposition of the model queue, batches, inference time, verdicts and cache.

Each app has its own `CollectorRegistry` (tests build many apps in one process; the global default registry
would refuse the second app's metrics as duplicates). Histograms are fed by the micro-batcher's observer
hook as batches run; counters the pipeline and batcher already keep (verdicts, cache hits, overload
refusals) are read at scrape time by a collector, so the domain imports no metrics library.

The service's internals (these metrics, /readyz's details: versions, model, the Redis address) are for its
operators: `operator_access` grants them to `Authorization: Bearer <MODERATION_METRICS_TOKEN>`, and without a
token configured to everyone in development only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.api.deps import SettingsDep
from service.api.errors import ErrorResponse, error_response
from service.config import Settings
from service.moderation.pipeline import Pipeline
from service.moderation.rules import RulesWatcher
from service.review.journal import JournalDepth
from service.review.outbox import OutboxWorker
from service.store.base import StoreUnavailable

router = APIRouter(tags=["metrics"])

_BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
_INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The app's registry and the histograms the batcher observes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._collector: _PipelineCollector | None = None
        self._rules_collector: _RulesCollector | None = None
        self._outbox: _OutboxCollector | None = None
        self.batch_size = Histogram(
            "moderation_batch_size",
            "Comments per model call.",
            buckets=_BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.inference_seconds = Histogram(
            "moderation_inference_seconds",
            "Wall time of one model call (a batch), tokenization included.",
            ["outcome"],
            buckets=_INFERENCE_BUCKETS,
            registry=self.registry,
        )

    def observe_batch(self, size: int, seconds: float, failed: bool) -> None:
        self.batch_size.observe(size)
        self.inference_seconds.labels(outcome="error" if failed else "ok").observe(seconds)

    def watch(self, pipeline: Pipeline) -> None:
        """Read `pipeline`'s counters at scrape time (replacing an earlier pipeline's, on a restart)."""
        if self._collector is not None:
            self.registry.unregister(self._collector)
        self._collector = _PipelineCollector(pipeline)
        self.registry.register(self._collector)

    def watch_outbox(self, worker: OutboxWorker | None) -> None:
        """Show the webhook outbox's depth, dead letters and deliveries (None: no webhook configured)."""
        if self._outbox is not None:
            self.registry.unregister(self._outbox)
            self._outbox = None
        if worker is not None:
            self._outbox = _OutboxCollector(worker)
            self.registry.register(self._outbox)

    async def refresh(self) -> None:
        """Read what lives in a store (the outbox's lengths) before a scrape; collectors cannot await."""
        if self._outbox is not None:
            await self._outbox.refresh()

    def watch_rules(self, rules: RulesWatcher) -> None:
        """Read how `rules`' reloading goes at scrape time (replacing an earlier watcher's)."""
        if self._rules_collector is not None:
            self.registry.unregister(self._rules_collector)
        self._rules_collector = _RulesCollector(rules)
        self.registry.register(self._rules_collector)


class _RulesCollector(Collector):
    def __init__(self, rules: RulesWatcher) -> None:
        self._rules = rules

    def collect(self) -> Iterator[Metric]:
        status = self._rules.status()
        yield CounterMetricFamily(
            "moderation_rules_reloads",
            "Edits of the rules files rebuilt and swapped in since the start.",
            value=status.reloads,
        )
        yield CounterMetricFamily(
            "moderation_rules_reload_failures",
            "Edits of the rules files that did not build (the previous rules were kept).",
            value=status.failures,
        )
        yield GaugeMetricFamily(
            "moderation_rules_reload_broken",
            "1 while the rules files on disk do not build and the previous rules are served, else 0.",
            value=0 if status.error is None else 1,
        )


class _PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        stats, batcher = self._pipeline.stats, self._pipeline.batcher
        yield GaugeMetricFamily(
            "moderation_queue_depth", "Comments waiting for the model.", value=batcher.waiting
        )
        yield GaugeMetricFamily(
            "moderation_queue_limit",
            "Comments that may wait before requests are refused (QUEUE_MAX).",
            value=batcher.queue_max,
        )
        verdicts = CounterMetricFamily("moderation_verdicts", "Verdicts given, by kind.", labels=["verdict"])
        for kind, count in sorted(stats.verdicts.items()):
            verdicts.add_metric([kind], count)
        yield verdicts
        yield CounterMetricFamily(
            "moderation_cache_hits", "Verdicts served from the cache.", value=stats.cache_hits
        )
        yield CounterMetricFamily(
            "moderation_cache_misses", "Verdict cache look-ups that found nothing.", value=stats.cache_misses
        )
        yield CounterMetricFamily(
            "moderation_cache_errors",
            "Verdict cache operations that failed (store down).",
            value=stats.cache_errors,
        )
        yield CounterMetricFamily(
            "moderation_model_failures",
            "Requests whose comments fell back to review because inference failed.",
            value=stats.model_failures,
        )
        yield CounterMetricFamily(
            "moderation_overloaded",
            "Requests refused with 503 because the model's queue was full.",
            value=batcher.stats.overloaded,
        )
        yield CounterMetricFamily(
            "moderation_dropped_comments",
            "Queued comments dropped because their request was gone.",
            value=batcher.stats.dropped,
        )
        yield CounterMetricFamily(
            "moderation_record_errors",
            "Recording attempts that failed (store down: journaled, or dropped without a journal).",
            value=stats.record_errors,
        )
        if self._pipeline.journal is not None:
            yield from _journal_metrics(self._pipeline.journal.depth())


def _journal_metrics(depth: JournalDepth) -> Iterator[Metric]:
    """The outage journal (issue 12): what waits for Redis, and what was lost at its bound."""
    gauges = (
        ("records", "Decision records waiting in the journal for Redis.", depth.records),
        ("bytes", "Bytes of those records (on disk, and about as much in memory).", depth.bytes),
        ("oldest_age_seconds", "How long the oldest waiting record has waited.", depth.oldest_age_s),
        ("unsynced_records", "Records not yet fsynced: what a crash now would lose.", depth.unsynced),
        ("max_records", "The journal's bound in records (JOURNAL_MAX_RECORDS).", depth.max_records),
        ("max_bytes", "The journal's bound in bytes (JOURNAL_MAX_BYTES).", depth.max_bytes),
    )
    for name, help_text, value in gauges:
        yield GaugeMetricFamily(f"moderation_journal_{name}", help_text, value=value)
    counters = (
        (
            "dropped",
            "Records dropped at the journal's bound (verdicts answered without a status).",
            depth.dropped,
        ),
        ("replayed", "Records written to Redis by replay.", depth.replayed),
        (
            "failed",
            "Records replay gave up on (refused for another reason than Redis being down).",
            depth.failed,
        ),
        ("conflicts", "Replayed records whose comment id held another text's status.", depth.conflicts),
        ("corrupt", "Torn or garbled journal lines skipped at start.", depth.corrupt),
        ("disk_errors", "Journal writes or fsyncs that failed.", depth.disk_errors),
    )
    for name, help_text, count in counters:
        yield CounterMetricFamily(f"moderation_journal_{name}", help_text, value=count)


class _OutboxCollector(Collector):
    def __init__(self, worker: OutboxWorker) -> None:
        self._worker = worker
        self._lengths: tuple[int, int] | None = None

    async def refresh(self) -> None:
        outbox = self._worker.outbox
        try:
            self._lengths = (await outbox.depth(), await outbox.dead_count())
        except StoreUnavailable:
            self._lengths = None  # not shown rather than stale

    def collect(self) -> Iterator[Metric]:
        if self._lengths is not None:
            depth, dead = self._lengths
            yield GaugeMetricFamily(
                "moderation_webhook_outbox_depth", "Webhook deliveries waiting or in flight.", value=depth
            )
            yield GaugeMetricFamily(
                "moderation_webhook_dead_letters",
                "Webhook deliveries that failed for good (kept).",
                value=dead,
            )
        stats = self._worker.stats
        for name, text, value in (
            ("delivered", "Webhook deliveries this process delivered.", stats.delivered),
            ("dead_lettered", "Webhook deliveries this process dead-lettered.", stats.dead_lettered),
            ("failed_attempts", "Webhook attempts that failed (retried or not).", stats.failed_attempts),
            ("lost", "Webhook deliveries that never reached the outbox (full or unreachable).", stats.lost),
        ):
            yield CounterMetricFamily(f"moderation_webhook_{name}", text, value=value)


def operator_access(request: Request, settings: Settings) -> Literal["granted", "refused", "closed"]:
    """Whether `request` may see the service's internals: "granted"; "refused" (no or a wrong token); or
    "closed" (no token configured outside development: nobody may)."""
    token = settings.METRICS_TOKEN
    if token is None:
        return "granted" if settings.ENVIRONMENT == "development" else "closed"
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    # Compared as bytes: the header arrives as latin-1 text, which may hold any byte.
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        sent.strip().encode("latin-1"), token.encode("utf-8")
    )
    return "granted" if ok else "refused"


METRICS_REFUSALS: dict[int | str, dict[str, Any]] = {
    200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}},
    401: {"model": ErrorResponse, "description": "No or a wrong `Authorization: Bearer` metrics token."},
    403: {"model": ErrorResponse, "description": "No metrics token is configured (production): closed."},
}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, responses=METRICS_REFUSALS)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    access = operator_access(request, settings)
    if access == "closed":
        return error_response(
            403,
            "metrics_closed",
            "Metrics are closed: set MODERATION_METRICS_TOKEN and send it as a Bearer token.",
        )
    if access == "refused":
        return error_response(
            401,
            "unauthorized",
            "Send the metrics token as 'Authorization: Bearer <MODERATION_METRICS_TOKEN>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await request.app.state.metrics.refresh()
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
