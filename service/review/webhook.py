"""The webhook that tells the site each moderator's final decision.

Each decision is POSTed as JSON to MODERATION_WEBHOOK_URL with

    Content-Type: application/json
    X-Moderation-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with MODERATION_WEBHOOK_SECRET>
    X-Moderation-Delivery: <the payload's delivery_id, the same on every retry>

and the body (see DecisionLog._apply)

    {"event": "comment.decided", "delivery_id": "…", "comment_id": "…", "article_id": "…" | null,
     "site": "…" | null, "status": "approved" | "rejected_by_moderator", "publish": true | false,
     "previous_status": "pending_review" | "accepted" | "rejected" | …, "overturn": false,
     "decided_by": "…", "decided_at": "2025-01-31T12:00:00.123Z", "appeal": false}

`site` is the site whose API key the comment came with (null: anonymous). `appeal` is true when the decision
is a moderator's answer to the commenter's appeal (issue 14: POST /v1/comments/{id}/appeal). A receiver
verifies the signature over the bytes it received (before parsing them) with a constant-time comparison, and
may drop a delivery_id it has already seen. A 2xx answer ends the delivery. A connection
error, a timeout, 408, 429 or 5xx is retried in the background with exponential backoff (WEBHOOK_BACKOFF_S,
doubling, capped at WEBHOOK_BACKOFF_MAX_S) up to WEBHOOK_MAX_ATTEMPTS attempts; any other answer is final.

The service delivers through the outbox (service/review/outbox.py): each payload is written to Redis first
and the delivery worker POSTs it with `WebhookSender.attempt`, so deliveries survive a restart and a failed
one ends in the dashboard's dead letters. `WebhookSender.send` delivers from process memory alone (no
outbox): what a restart drops, it loses.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Moderation-Signature"
DELIVERY_HEADER = "X-Moderation-Delivery"
_RETRIED_STATUSES = {408, 429}


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` (what a receiver does; the tests use it too)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def encode(payload: dict[str, Any]) -> bytes:
    """The body POSTed for `payload`: the same bytes on every attempt, as signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST's outcome: delivered, or the problem and whether another attempt may succeed."""

    delivered: bool
    retry: bool = False
    problem: str = ""


class WebhookSender:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        max_attempts: int = 6,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        timeout_s: float = 5.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.url, self._secret = url, secret
        self.max_attempts, self.backoff_s, self.backoff_max_s = max_attempts, backoff_s, backoff_max_s
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._sleep = sleep
        self._tasks: set[asyncio.Task[bool]] = set()
        self.delivered = 0
        self.failed = 0

    def send(self, payload: dict[str, Any]) -> asyncio.Task[bool]:
        """Deliver `payload` in the background, from process memory (no outbox); the task's result says
        whether it was delivered."""
        task = asyncio.get_running_loop().create_task(
            self._deliver(encode(payload), str(payload.get("delivery_id", "")))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1 for the first): doubling, capped."""
        return float(min(self.backoff_s * 2.0 ** min(attempt - 1, 62), self.backoff_max_s))

    async def attempt(self, body: bytes, delivery_id: str) -> Attempt:
        """POST `body` once, signed; never raises for the receiver's trouble."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            DELIVERY_HEADER: delivery_id,
        }
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Attempt(False, retry=True, problem=f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return Attempt(True)
        retry = response.status_code >= 500 or response.status_code in _RETRIED_STATUSES
        return Attempt(False, retry=retry, problem=f"HTTP {response.status_code}")

    async def _deliver(self, body: bytes, delivery_id: str) -> bool:
        for attempt in range(1, self.max_attempts + 1):
            outcome = await self.attempt(body, delivery_id)
            if outcome.delivered:
                self.delivered += 1
                return True
            if not outcome.retry:
                log.error(
                    "webhook %s refused delivery %s (%s); not retrying",
                    self.url,
                    delivery_id,
                    outcome.problem,
                )
                self.failed += 1
                return False
            if attempt == self.max_attempts:
                break
            delay = self.backoff(attempt)
            log.warning(
                "webhook %s delivery %s attempt %d/%d failed (%s); retrying in %.1f s",
                self.url,
                delivery_id,
                attempt,
                self.max_attempts,
                outcome.problem,
                delay,
            )
            await self._sleep(delay)
        log.error(
            "webhook %s: delivery %s failed after %d attempts", self.url, delivery_id, self.max_attempts
        )
        self.failed += 1
        return False

    async def aclose(self, grace_s: float = 2.0) -> None:
        """Give deliveries in flight `grace_s` to finish, cancel the rest, close the client."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("shutting down with %d webhook deliveries undelivered", len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        await self._client.aclose()


class WebhookConfigError(Exception):
    """MODERATION_WEBHOOK_URL is set without MODERATION_WEBHOOK_SECRET (or is not an http(s) URL)."""
