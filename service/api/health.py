"""GET /healthz (the process answers) and GET /readyz (it can do its job).

With an outage journal (issue 12), Redis not answering does not make the service unready while the journal
takes the decision records (it answers verdicts, and their records wait on disk); a full journal does. The
journal's depth is in the details either way.

/readyz answers everyone with its status code and "ready" / "not ready" (all a health check or load
balancer reads); which part is not ready, the versions and the Redis address only with the metrics token
(see service/api/metrics.py, operator_access).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.deps import PipelineDep, SettingsDep
from service.api.metrics import operator_access
from service.api.schemas import Health, Ready, ReadyCheck
from service.moderation.rules import RulesWatcher
from service.review.journal import JournalDepth

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: policy and model loaded, Redis answering when configured",
    responses={
        503: {"model": Ready, "description": "A part is not ready; `checks` (with the token) names it."}
    },
)
async def readyz(request: Request, pipeline: PipelineDep, settings: SettingsDep) -> JSONResponse:
    rules = pipeline.rules.current()
    checks = {
        "policy": ReadyCheck(ok=True, detail=f"version {rules.policy.version}"),
        "model": ReadyCheck(
            ok=True,
            detail=pipeline.scorer.model_id
            if pipeline.model_enabled
            else "none: word list only (MODERATION_MODEL=none)",
        ),
    }
    checks["wordlist"] = ReadyCheck(ok=True, detail=f"version {rules.wordlist.version}")
    watcher = getattr(request.app.state, "rules", None)
    if isinstance(watcher, RulesWatcher):
        # A broken edit keeps the previous rules serving: still ready (every replica reading the same files
        # would otherwise leave the load balancer at once), with the error for the operator to read.
        status = watcher.status()
        checks["reload"] = ReadyCheck(
            ok=True,
            detail="the rules served are the files' as they are"
            if status.error is None
            else f"the rules files do not build, the previous rules are served: {status.error}",
        )
    journal = pipeline.journal.depth() if pipeline.journal is not None else None
    if journal is not None:
        # Said, not judged: a full journal counts only with Redis down (below), when records are being lost.
        checks["journal"] = ReadyCheck(ok=True, detail=journal_detail(journal))
    store = pipeline.store
    journaling = False
    if store.kind == "redis":
        up = await store.ping()
        journaling = not up and journal is not None and not journal.full
        detail = f"{store.describe()} {'answering' if up else 'not answering'}"
        if journaling:
            detail += "; decision records wait in the local journal"
        checks["redis"] = ReadyCheck(ok=up, detail=detail)
    else:
        checks["cache"] = ReadyCheck(ok=True, detail="in-process memory (REDIS_URL unset)")
    # Verdicts go out either way; what a Redis outage costs then is only waiting, which the journal covers.
    ready = all(c.ok for name, c in checks.items() if not (name == "redis" and journaling))
    body = Ready(status="ready" if ready else "not ready", checks=checks)
    if operator_access(request, settings) != "granted":
        body.checks = None
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ready else 503)


def journal_detail(depth: JournalDepth) -> str:
    """The journal's depth in a sentence."""
    if not depth.records:
        text = "empty"
    else:
        text = (
            f"{depth.records} record(s), {depth.bytes} bytes waiting for Redis, the oldest for "
            f"{depth.oldest_age_s:.0f} s (bounds {depth.max_records} records, {depth.max_bytes} bytes)"
        )
        if depth.full:
            text = "FULL: " + text
    if depth.dropped:
        text += f"; {depth.dropped} record(s) dropped at the bound since start"
    return text
