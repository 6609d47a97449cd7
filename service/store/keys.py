"""Every Redis key name the service uses is built here, under one prefix per deployment.

The whole-record script (service/store/redis.py) is given `comment_prefix()` to name the statuses of the
reviews the full overflow drops, which it only learns as it runs; every other key a script touches is passed
to it.

Two deployments (staging and production, or two sites) can share one Redis because everything they write
lives under their own prefix. Every key is a method of `Keys`, so that no other module formats a key name by
hand, and only the Redis store asks for them (everyone else names a digest, a comment id or a counter):

    {prefix}verdict:{digest}                      cached verdict (string, TTL CACHE_TTL_S)
    {prefix}log                                   decision log (stream, capped by LOG_MAX_ENTRIES and
                                                  LOG_RETENTION_DAYS)
    {prefix}review:queue                          pending reviews (sorted set: comment id -> ms entered),
                                                  capped by REVIEW_QUEUE_MAX
    {prefix}review:overflow                       pending reviews the full queue moved out, oldest first
                                                  (sorted set, as the queue), capped by REVIEW_OVERFLOW_MAX
    {prefix}review:overflow:lost                  how many fell out of the overflow, ever (string, integer)
    {prefix}comment:{comment id}                  a comment's status (hash; TTL LOG_RETENTION_DAYS once final,
                                                  or once lost from the review overflow); `record_id` names
                                                  the record that created it (a replay writes nothing)
    {prefix}count:{m|h}:{bucket}:{dimension}:{value}
                                                  per-minute / per-hour counters (string, TTL a bit over
                                                  what the dashboard shows)
    {prefix}session:{session key}                 a moderator's session (hash; TTL SESSION_MAX_AGE_S); the
                                                  key is a digest of the cookie's id, never the id itself
    {prefix}session-epoch:{user}                  how often the user logged out everywhere (string; kept)
    {prefix}login-limit:LIMITER/{who}/...         login attempts per client address and per user name (the
                                                  `limits` package's moving windows; they expire by
                                                  themselves)
    {prefix}api-key:{key id}                      a site's API key (hash: site, sha256 of the whole key,
                                                  created_ms, revoked_ms; never the key; kept, revoked too)
    {prefix}api-keys                              every API key's id (set), for `moderation keys list`
    {prefix}precheck-limit:LIMITER/{who}/...      the widget's pre-checks per client address and per site
                                                  (moving windows, as the login's; issue 14)
    {prefix}webhook:outbox                        webhook deliveries waiting or in flight (stream, consumer
                                                  group "deliverers"; an entry is deleted once delivered or
                                                  dead-lettered), capped by WEBHOOK_OUTBOX_MAX
    {prefix}webhook:attempts                      attempts made so far per outbox entry (hash: entry id ->
                                                  count; the field goes with its entry)
    {prefix}webhook:dead                          dead-lettered deliveries with their last error (stream,
                                                  capped by WEBHOOK_DEAD_LETTER_MAX, oldest dropped)
"""

from __future__ import annotations

import hashlib
import json

from service.store.base import (
    check_api_key_id,
    check_comment_id,
    check_counter_name,
    check_digest,
    check_session_key,
    check_user,
)

DEFAULT_PREFIX = "moderation:"

DIGEST_SCHEME = "verdict/v1"
"""Versions the digest's encoding: changing how the digest is computed must change every key."""


class Keys:
    """Key names for one deployment. The prefix usually ends with ':' (Redis' customary separator)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix or any(ch.isspace() for ch in prefix):
            raise ValueError(f"a key prefix must be non-empty and free of whitespace, got {prefix!r}")
        # Glob characters would make `SCAN MATCH {prefix}*` (cleanup, migrations) match other deployments.
        if any(ch in prefix for ch in "*?[]\\"):
            raise ValueError(f"a key prefix must not contain glob characters (*?[]\\), got {prefix!r}")
        self.prefix = prefix

    def verdict(self, digest: str) -> str:
        """The cache key of one verdict; `digest` comes from `verdict_digest`."""
        check_digest(digest)
        return f"{self.prefix}verdict:{digest}"

    def decision_log(self) -> str:
        """The decision log: a capped Stream of verdicts (rejections and reviews) and moderators' decisions."""
        return f"{self.prefix}log"

    def review_queue(self) -> str:
        """The review queue: a sorted set of comment ids scored by the time they entered (ms since epoch)."""
        return f"{self.prefix}review:queue"

    def review_overflow(self) -> str:
        """Where the full review queue's oldest go: a sorted set like the queue, capped in its turn."""
        return f"{self.prefix}review:overflow"

    def review_lost(self) -> str:
        """A running count of the pending reviews that fell out of the overflow."""
        return f"{self.prefix}review:overflow:lost"

    def comment(self, comment_id: str) -> str:
        """A hash with one comment's current status (and, for reviews and rejections, what a moderator needs)."""
        check_comment_id(comment_id)
        return f"{self.prefix}comment:{comment_id}"

    def comment_prefix(self) -> str:
        """What `comment` puts before the id: for a script that names the statuses of ids it finds itself
        (those the full review overflow drops)."""
        return f"{self.prefix}comment:"

    def counter(self, period: str, bucket: int, dimension: str, value: str) -> str:
        """A counter of one bucket: `period` is "m" (per minute) or "h" (per hour), `bucket` the minute or
        hour since the epoch, `dimension` what is counted (verdict, clause, cache, decision), `value` which."""
        check_counter_name(period, dimension, value)
        return f"{self.prefix}count:{period}:{bucket}:{dimension}:{value}"

    # -- moderators' sessions and login rate limits (login hardening, issue 10) ---------------------------

    def session(self, key: str) -> str:
        """A hash with one moderator's session: user, CSRF token, expiry, the epoch it was started in."""
        check_session_key(key)
        return f"{self.prefix}session:{key}"

    def session_epoch(self, user: str) -> str:
        """A counter raised by each "log out everywhere" of `user`; no TTL, as sessions of an older epoch
        must stay refused for as long as they could live, and it is one small key per moderator."""
        check_user(user)
        return f"{self.prefix}session-epoch:{user}"

    def login_limits(self) -> str:
        """The prefix the `limits` package puts (with its own ":") before its login-attempt keys."""
        return f"{self.prefix}login-limit"

    # -- API keys per site (issue 13) -----------------------------------------------------------------------

    def api_key(self, key_id: str) -> str:
        """A hash describing one API key by its id (the public part of the key): its site and digest."""
        check_api_key_id(key_id)
        return f"{self.prefix}api-key:{key_id}"

    def api_key_ids(self) -> str:
        """The set of every API key's id, so that listing them needs no SCAN."""
        return f"{self.prefix}api-keys"

    # -- the commenter's widget (issue 14) ------------------------------------------------------------------

    def precheck_limits(self) -> str:
        """The prefix the `limits` package puts (with its own ":") before its pre-check keys."""
        return f"{self.prefix}precheck-limit"

    # -- the webhook outbox (issue 12) ----------------------------------------------------------------------

    def webhook_outbox(self) -> str:
        """The webhook deliveries not yet delivered: a Stream read by the deliverers' consumer group."""
        return f"{self.prefix}webhook:outbox"

    def webhook_attempts(self) -> str:
        """How many attempts each outbox entry has had: a hash by entry id, so a restart continues the count."""
        return f"{self.prefix}webhook:attempts"

    def webhook_dead(self) -> str:
        """Deliveries that failed for good, with their last error: a capped Stream, newest last."""
        return f"{self.prefix}webhook:dead"

    def __repr__(self) -> str:
        return f"Keys(prefix={self.prefix!r})"


def verdict_digest(
    text: str, policy_version: str, rules_version: str, model_id: str, *, lang: str | None = None
) -> str:
    """SHA-256 (hex) naming one verdict: the same four inputs always give the same verdict.

    The four parts are encoded as a JSON list, not joined with a separator: with a separator, ("a|b", "c")
    and ("a", "b|c") would hash alike, and comment text can contain any separator we might pick. JSON
    quotes and escapes each string, so distinct inputs always give distinct bytes. `ensure_ascii` (the
    default) escapes everything outside ASCII, which also keeps lone surrogates — which `str.encode`
    refuses — encodable, and makes the bytes independent of any Unicode normalization along the way.
    The scheme tag leads the list so that a future change of encoding changes every key.

    `lang` is the language the request gave (its primary subtag): it decides which word-list matches count
    (issue 11), so "slut" sent as Swedish and the same text sent without a language are two verdicts. Without
    it the list is the four parts alone, so the keys of comments sent without a language stay as they were.
    """
    parts = [DIGEST_SCHEME, text, policy_version, rules_version, model_id]
    for name, value in zip(("text", "policy_version", "rules_version", "model_id"), parts[1:], strict=True):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if lang is not None:
        if not isinstance(lang, str):
            raise TypeError(f"lang must be a str, got {type(lang).__name__}")
        parts.append(f"lang:{lang}")
    encoded = json.dumps(parts, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(encoded).hexdigest()
