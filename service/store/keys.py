"""Every Redis key name the service uses is built here, under one prefix per deployment.

Two deployments (staging and production, or two sites) can share one Redis because everything they write
lives under their own prefix. Later keys (decision log stream, review queue, per-minute counters) belong
here too, as further methods of `Keys`, so that no other module formats a key name by hand.
"""

from __future__ import annotations

import hashlib
import json

DIGEST_SCHEME = "verdict/v1"
"""Versions the digest's encoding: changing how the digest is computed must change every key."""


class Keys:
    """Key names for one deployment. The prefix usually ends with ':' (Redis' customary separator)."""

    def __init__(self, prefix: str = "moderation:") -> None:
        if not prefix or any(ch.isspace() for ch in prefix):
            raise ValueError(f"a key prefix must be non-empty and free of whitespace, got {prefix!r}")
        # Glob characters would make `SCAN MATCH {prefix}*` (cleanup, migrations) match other deployments.
        if any(ch in prefix for ch in "*?[]\\"):
            raise ValueError(f"a key prefix must not contain glob characters (*?[]\\), got {prefix!r}")
        self.prefix = prefix

    def verdict(self, digest: str) -> str:
        """The cache key of one verdict; `digest` comes from `verdict_digest`."""
        if not digest or any(ch.isspace() for ch in digest):
            raise ValueError(f"a verdict digest must be non-empty and free of whitespace, got {digest!r}")
        return f"{self.prefix}verdict:{digest}"

    def __repr__(self) -> str:
        return f"Keys(prefix={self.prefix!r})"


def verdict_digest(text: str, policy_version: str, rules_version: str, model_id: str) -> str:
    """SHA-256 (hex) naming one verdict: the same four inputs always give the same verdict.

    The four parts are encoded as a JSON list, not joined with a separator: with a separator, ("a|b", "c")
    and ("a", "b|c") would hash alike, and comment text can contain any separator we might pick. JSON
    quotes and escapes each string, so distinct inputs always give distinct bytes. `ensure_ascii` (the
    default) escapes everything outside ASCII, which also keeps lone surrogates — which `str.encode`
    refuses — encodable, and makes the bytes independent of any Unicode normalization along the way.
    The scheme tag leads the list so that a future change of encoding changes every key.
    """
    parts = [DIGEST_SCHEME, text, policy_version, rules_version, model_id]
    for name, value in zip(("text", "policy_version", "rules_version", "model_id"), parts[1:]):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    encoded = json.dumps(parts, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(encoded).hexdigest()
