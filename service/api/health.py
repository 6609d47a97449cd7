"""GET /healthz (the process answers) and GET /readyz (it can do its job)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.deps import PipelineDep
from service.api.schemas import Health, Ready, ReadyCheck

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: policy and model loaded, Redis answering when configured",
    responses={503: {"model": Ready, "description": "A part is not ready; `checks` names it."}},
)
async def readyz(pipeline: PipelineDep) -> JSONResponse:
    policy = pipeline.policy
    checks = {
        "policy": ReadyCheck(ok=True, detail=f"version {policy.version}"),
        "model": ReadyCheck(
            ok=True,
            detail=pipeline.scorer.model_id
            if pipeline.model_enabled
            else "none: word list only (MODERATION_MODEL=none)",
        ),
    }
    try:
        wordlist = pipeline.wordlists.current()
        checks["wordlist"] = ReadyCheck(ok=True, detail=f"version {wordlist.version}")
    except Exception as exc:  # a broken hot reload keeps the old list; this catches only total failure
        checks["wordlist"] = ReadyCheck(ok=False, detail=str(exc))
    store = pipeline.store
    if store.kind == "redis":
        up = await store.ping()
        checks["redis"] = ReadyCheck(
            ok=up, detail=f"{store.describe()} {'answering' if up else 'not answering'}"
        )
    else:
        checks["cache"] = ReadyCheck(ok=True, detail="in-process memory (REDIS_URL unset)")
    ready = all(c.ok for c in checks.values())
    body = Ready(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
