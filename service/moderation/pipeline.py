"""One pipeline for every door: comments in, verdicts out (no web framework here).

normalize → cache → word list → toxicity → policy → record, as drawn in ARCHITECTURE.md. Normalization is
the word-list engine's own business (it keeps offset maps back to the original text); the cache key is taken
over the text exactly as sent, because a verdict's spans index that text: two comments that differ in one
character must not share spans.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from service.moderation.policy import Policy, decide
from service.moderation.toxicity import Scorer
from service.moderation.types import Comment, Profanity, Verdict, WordMatch
from service.moderation.wordlist import WordListWatcher
from service.store.base import Store, StoreUnavailable
from service.store.keys import Keys, verdict_digest

log = logging.getLogger(__name__)


@dataclass
class PipelineStats:
    """Plain counters the health and metrics endpoints read."""

    cache_hits: int = 0
    cache_misses: int = 0
    cache_errors: int = 0
    model_calls: int = 0
    model_failures: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: {"accept": 0, "review": 0, "reject": 0})


class Pipeline:
    def __init__(
        self,
        *,
        policy: Policy,
        wordlists: WordListWatcher,
        scorer: Scorer,
        store: Store,
        keys: Keys,
        cache_ttl_s: int,
    ) -> None:
        self.policy = policy
        self.wordlists = wordlists
        self.scorer = scorer
        self.store = store
        self.keys = keys
        self.cache_ttl_s = cache_ttl_s
        self.stats = PipelineStats()
        # One thread owns the model: PyTorch already uses every core inside one call, and a model object
        # shared between threads gains nothing but contention.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    @property
    def model_enabled(self) -> bool:
        return self.scorer.model_id != "none"

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def moderate(self, comments: Sequence[Comment]) -> list[Verdict]:
        """Verdicts for `comments`, in the same order. Never raises for model or store trouble."""
        wordlist = self.wordlists.current()
        ids = [c.id or uuid.uuid4().hex for c in comments]
        cache_keys = [
            self.keys.verdict(
                verdict_digest(
                    c.text,
                    f"{self.policy.version}:{self.policy.fingerprint}",
                    wordlist.version,
                    self.scorer.model_id,
                )
            )
            for c in comments
        ]

        results: list[Verdict | None] = [None] * len(comments)
        for i, key in enumerate(cache_keys):
            cached = await self._cache_get(key)
            if cached is not None:
                results[i] = cached.model_copy(update={"id": ids[i], "cached": True})

        todo = [i for i, r in enumerate(results) if r is None]
        matches = {i: wordlist.find(comments[i].text) for i in todo}

        scores: dict[int, dict[str, float]] = {}
        model_failed = False
        if todo and self.model_enabled:
            try:
                batch_scores = await self._score([comments[i].text for i in todo])
                scores = dict(zip(todo, batch_scores, strict=True))
            except Exception:  # any inference failure: the comments go to review, the service stays up
                log.exception("model inference failed for %d comment(s); verdicts fall back to review", len(todo))
                self.stats.model_failures += 1
                model_failed = True

        for i in todo:
            verdict = self._verdict(ids[i], matches[i], scores.get(i), model_failed)
            results[i] = verdict
            if not model_failed:
                await self._cache_set(cache_keys[i], verdict)

        final = [r for r in results if r is not None]
        for v in final:
            self.stats.verdicts[v.verdict] += 1
        return final

    def _verdict(
        self, comment_id: str, matches: list[WordMatch], scores: dict[str, float] | None, model_failed: bool
    ) -> Verdict:
        decision = decide(self.policy, matches, scores, model_failed=model_failed)
        return Verdict(
            id=comment_id,
            verdict=decision.verdict,
            reasons=decision.reasons,
            notice=decision.notice,
            scores={k: round(float(v), 6) for k, v in (scores or {}).items()},
            profanity=Profanity(matches=matches),
            cached=False,
            model_consulted=scores is not None,
            policy_version=self.policy.version,
            model=self.scorer.model_id,
        )

    async def _score(self, texts: list[str]) -> list[dict[str, float]]:
        self.stats.model_calls += 1
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, self.scorer.score, texts)
        if len(result) != len(texts):
            raise RuntimeError(f"model returned {len(result)} score sets for {len(texts)} comments")
        for scores in result:
            for category, value in scores.items():
                # NaN would compare false against every threshold and turn into an accept.
                if not (isinstance(value, float | int) and 0.0 <= value <= 1.0):
                    raise RuntimeError(f"model returned {value!r} for {category}, not a probability")
        return result

    async def _cache_get(self, key: str) -> Verdict | None:
        try:
            raw = await self.store.get_verdict(key)
        except StoreUnavailable as exc:
            self.stats.cache_errors += 1
            log.debug("verdict cache unavailable, scoring uncached: %s", exc)  # the store logs outages once
            return None
        if raw is None:
            self.stats.cache_misses += 1
            return None
        try:
            verdict = Verdict.model_validate(raw)
        except ValueError:
            log.warning("ignoring a cached verdict that no longer parses (key %s)", key)
            self.stats.cache_misses += 1
            return None
        self.stats.cache_hits += 1
        return verdict

    async def _cache_set(self, key: str, verdict: Verdict) -> None:
        try:
            await self.store.set_verdict(key, verdict.model_dump(mode="json"), self.cache_ttl_s)
        except StoreUnavailable as exc:
            self.stats.cache_errors += 1
            log.debug("verdict cache unavailable, verdict not cached: %s", exc)
