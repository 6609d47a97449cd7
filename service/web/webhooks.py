"""/dashboard/webhooks: the webhook deliveries that failed for good (dead letters), newest first, each with a
"retry" form that puts it back in the outbox (service/review/outbox.py delivers it).

The dead letters are capped by WEBHOOK_DEAD_LETTER_MAX in the store; a page shows at most _PAGE_SIZE of them
and links to the older ones.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.api.deps import DecisionsDep
from service.review.outbox import OutboxWorker
from service.store.base import StoreUnavailable
from service.store.outbox import OutboxFull
from service.web.deps import CheckedForm, PageSession
from service.web.responses import flash_redirect, page_cursor, render

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

_PAGE_SIZE = 25
_PAGE = "/dashboard/webhooks"


def _worker(request: Request) -> OutboxWorker | None:
    worker: OutboxWorker | None = getattr(request.app.state, "webhook_outbox", None)
    return worker


@router.get("/webhooks")
async def dead_letters(
    request: Request, session: PageSession, decisions: DecisionsDep, before: str | None = None
) -> Response:
    worker = _worker(request)
    cursor = page_cursor(before)
    letters, depth, kept, unavailable = [], None, None, False
    if worker is not None:
        try:
            # One more than shown, to know whether there are older ones.
            letters = await worker.outbox.dead_page(cursor, _PAGE_SIZE + 1)
            depth, kept = await worker.outbox.depth(), await worker.outbox.dead_count()
        except StoreUnavailable:
            unavailable = True
    older = letters[_PAGE_SIZE - 1].dead_id if len(letters) > _PAGE_SIZE else None
    context = {
        "session": session,
        "page": "webhooks",
        "pending": await decisions.queue_size(),
        "configured": worker is not None,
        "url": worker.sender.url if worker is not None else None,
        "unavailable": unavailable,
        "letters": letters[:_PAGE_SIZE],
        "depth": depth,
        "kept": kept,
        "dead_max": worker.outbox.dead_max if worker is not None else None,
        "older_url": f"{_PAGE}?" + urlencode({"before": older}) if older else None,
    }
    return render(request, "webhooks.html", context)


@router.post("/webhooks/dead/{dead_id}/retry")
async def retry_dead_letter(
    request: Request, dead_id: str, session: PageSession, form: CheckedForm
) -> Response:
    worker = _worker(request)
    if worker is None:
        return flash_redirect(request, _PAGE, "No webhook is configured.", "error")
    try:
        entry_id = await worker.retry(dead_id)
    except ValueError:
        return flash_redirect(request, _PAGE, "That is not a dead letter's id.", "error")
    except OutboxFull as exc:
        return flash_redirect(request, _PAGE, f"Not retried: {exc}.", "error")
    except StoreUnavailable:
        return flash_redirect(request, _PAGE, "Not retried: the outbox did not answer. Try again.", "error")
    if entry_id is None:
        return flash_redirect(
            request, _PAGE, "That delivery is not a dead letter (retried already?).", "error"
        )
    return flash_redirect(request, _PAGE, "The delivery is queued again.")
