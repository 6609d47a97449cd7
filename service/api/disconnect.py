"""Stop waiting for the model when the client has gone.

uvicorn does not cancel a request's task when its client disconnects; it only delivers `http.disconnect`
to whoever next calls `receive()`. The moderation handlers have read their whole body by the time they
wait for the model, so a watcher can sit on `receive()` and cancel the work when that message comes: the
batcher then drops the comments before their batch runs (see MicroBatcher, "clients gone").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

from service.api.errors import ApiError

T = TypeVar("T")


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    task = asyncio.ensure_future(work)
    gone = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                gone.set()
                task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    except asyncio.CancelledError:
        if gone.is_set() and not _cancelling():
            # Nobody will read this answer; it exists so the server logs the request as ended by the client.
            raise ApiError(499, "client_closed_request", "The client closed the connection.") from None
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def _cancelling() -> bool:
    """True when the handler's own task is being cancelled (shutdown), not just the work we started."""
    current = asyncio.current_task()
    return bool(current and current.cancelling())
