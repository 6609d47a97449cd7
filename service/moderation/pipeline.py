"""One pipeline for every door: comments in, verdicts out (no web framework here).

normalize → cache → word list → toxicity → policy → record, as drawn in ARCHITECTURE.md. Normalization is
the word-list engine's own business (it keeps offset maps back to the original text); the cache key is taken
over the text exactly as sent, because a verdict's spans index that text: two comments that differ in one
character must not share spans.

Bounded work per comment: matching runs in a thread pool of its own (MATCH_THREADS), never on the event
loop, so one long comment cannot hold up health checks or other requests while it is matched; a verdict
keeps at most `max_matches` matches and `max_reasons` reasons (the most severe; it says how many it left out).

A comment's status belongs to its first writer: recording creates it once and hands back a status token;
a repeat of the same text under the same id gets the verdict recorded first, another text `IdConflict`.

"Do not store" (Perspective's doNotStore, which Coral Talk sends by default): the comment is judged the same
way, the verdict cache may answer it (a read stores nothing), but nothing of its text is kept anywhere: no
cache entry, no status, no log entry, no place in the review queue; only the counters the dashboard charts
(verdict, clause, cache hit or miss), which hold no text.

A door may have parts of a comment's text scored with it (`moderate_with_parts`: Perspective's span scores,
one per sentence): the parts go to the model in the same submission as the comment, so they share its
batches instead of queueing behind other requests' work.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from service.model.base import Scorer
from service.model.batcher import MicroBatcher, Overloaded
from service.moderation.policy import Policy, apply_policy, cap_matches
from service.moderation.rules import Rules, RulesSource
from service.moderation.types import (
    VERDICTS,
    Comment,
    Language,
    Profanity,
    Verdict,
    WordMatch,
    primary_language,
)
from service.review.journal import Journal
from service.review.log import DecisionLog
from service.review.models import IdConflict, PendingRecord
from service.store.base import StoreUnavailable, VerdictCache
from service.store.keys import verdict_digest
from service.wordlist.language import Languages
from service.wordlist.matcher import WordList

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """Everything a verdict depends on besides the text: the same text under the same identity always gets
    the same verdict. The verdict cache's key and a rescoring run's resume fingerprint are both made of it."""

    policy: str
    """The policy's version and the hash of its file (an edit that forgot to bump the version still counts)."""
    wordlist: str
    """The word lists' version (a hash of every effective entry)."""
    model: str
    """The model id: name plus a hash of the checkpoint, or "none"."""

    def as_dict(self) -> dict[str, str]:
        return {"policy": self.policy, "wordlist": self.wordlist, "model": self.model}


Matched = tuple[list[WordMatch], int, Language | None]
"""A comment's matches (capped), how many the cap left out, and the language they were judged in."""


@dataclass
class PipelineStats:
    """Plain counters the health and metrics endpoints read."""

    cache_hits: int = 0
    cache_misses: int = 0
    cache_errors: int = 0
    model_calls: int = 0
    model_failures: int = 0
    record_errors: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))


class Pipeline:
    def __init__(
        self,
        *,
        rules: RulesSource,
        scorer: Scorer,
        store: VerdictCache,
        cache_ttl_s: int,
        batcher: MicroBatcher,
        matching: Executor,
        max_matches: int,
        max_reasons: int,
        decisions: DecisionLog | None = None,
        cache: bool = True,
        journal: Journal[PendingRecord] | None = None,
        languages: Languages | None = None,
    ) -> None:
        """`matching` runs word-list matching (the pipeline shuts it down on `close`). `cache=False` neither
        reads nor writes the verdict cache: batch rescoring judges every comment afresh and must not fill
        the service's cache with an archive's worth of verdicts. `journal` keeps the records the decision
        log's store could not take (its replay task is the caller's to run). `languages` decides which matches
        count in a comment's language (service/wordlist/language.py; default options without one)."""
        # Policy and word lists, reloaded together off the request path (service/moderation/rules.py).
        self.rules = rules
        self.scorer = scorer
        self.store = store
        self.cache_ttl_s = cache_ttl_s
        self.decisions = decisions
        self.cache = cache
        self.journal = journal
        self.stats = PipelineStats()
        # Every model call goes through the micro-batcher, whose one thread owns the model.
        self.batcher = batcher
        self.matching = matching
        self.max_matches = max_matches
        self.max_reasons = max_reasons
        self.languages = languages or Languages()

    def identity(self, rules: Rules | None = None) -> Identity:
        """The identity verdicts get now (or with `rules`, the rules a call already holds)."""
        rules = rules or self.rules.current()
        return Identity(
            policy=f"{rules.policy.version}:{rules.policy.fingerprint}",
            wordlist=rules.wordlist.version,
            model=self.scorer.model_id,
        )

    @property
    def policy(self) -> Policy:
        """The policy of now (a request judges with the one its `Rules` hold)."""
        return self.rules.current().policy

    @property
    def model_enabled(self) -> bool:
        return self.scorer.model_id != "none"

    def close(self) -> None:
        self.batcher.close()
        # Matching still running for a cancelled request is left to finish in its thread, unwaited.
        self.matching.shutdown(wait=False, cancel_futures=True)

    async def moderate(self, comments: Sequence[Comment], *, do_not_store: bool = False) -> list[Verdict]:
        """Verdicts for `comments`, in the same order. Never raises for model or store trouble.

        Raises `Overloaded` when the model's queue cannot take the comments (backpressure: no verdict), and
        `IdConflict` when a comment's id already holds another text's status (the others are recorded).
        With `do_not_store`, nothing of the comments is kept (see the module's docstring): only counted.
        """
        verdicts, _ = await self._moderate(comments, (), do_not_store=do_not_store)
        return verdicts

    async def precheck(self, comment: Comment, *, use_model: bool = True) -> Verdict:
        """The verdict `comment` would get now, as advice while it is being written (the widget's pre-check,
        issue 14): it may come from the verdict cache, but leaves nothing behind: no cache entry, no status,
        no log entry, not even a count (it is not a decision, and a commenter typing would otherwise count
        dozens). Without `use_model`, a verdict not in the cache is the word list's alone (model_consulted is
        false). Raises `Overloaded` as `moderate` does."""
        (verdict,), _ = await self._moderate(
            [comment], (), do_not_store=True, counted=False, use_model=use_model
        )
        return verdict.model_copy(update={"status_token": None})

    async def moderate_with_parts(
        self, comment: Comment, parts: Sequence[str], *, do_not_store: bool = False
    ) -> tuple[Verdict, list[dict[str, float]] | None]:
        """`moderate([comment])`, plus the model's scores of `parts` (pieces of the comment's text, such as
        its sentences), submitted to the model together with the comment. The part scores are None when no
        model runs or the model failed (the verdict then says model_consulted=false)."""
        (verdict,), part_scores = await self._moderate([comment], parts, do_not_store=do_not_store)
        return verdict, part_scores

    async def _moderate(
        self,
        comments: Sequence[Comment],
        parts: Sequence[str],
        *,
        do_not_store: bool,
        counted: bool = True,
        use_model: bool = True,
    ) -> tuple[list[Verdict], list[dict[str, float]] | None]:
        # One set of rules for the whole request, however a reload goes meanwhile.
        rules = self.rules.current()
        identity = self.identity(rules)
        ids = [c.id or uuid.uuid4().hex for c in comments]
        langs = [primary_language(c.lang) for c in comments]
        # The given language changes which matches count, so it is part of the key (a detected one is a
        # function of the text).
        digests = (
            [
                verdict_digest(c.text, identity.policy, identity.wordlist, identity.model, lang=lang)
                for c, lang in zip(comments, langs, strict=True)
            ]
            if self.cache
            else []
        )

        results: list[Verdict | None] = [None] * len(comments)
        for i, cached in enumerate(await self._cache_get(digests)):
            if cached is not None:
                results[i] = cached.model_copy(
                    update={"id": ids[i], "cached": True, "status_token": None, "appeal_token": None}
                )

        todo = [i for i, r in enumerate(results) if r is None]
        loop = asyncio.get_running_loop()
        found = await asyncio.gather(
            *(
                loop.run_in_executor(self.matching, self._match, rules.wordlist, comments[i].text, langs[i])
                for i in todo
            )
        )
        matches = dict(zip(todo, found, strict=True))

        scores: dict[int, dict[str, float]] = {}
        part_scores: list[dict[str, float]] | None = None
        model_failed = False
        if (todo or parts) and self.model_enabled and use_model:
            try:
                # One submission: the parts share the comments' batches.
                batch_scores = await self._score([comments[i].text for i in todo] + list(parts))
                scores = dict(zip(todo, batch_scores[: len(todo)], strict=True))
                part_scores = batch_scores[len(todo) :]
            except Overloaded:  # backpressure, not a model failure: the API answers 503 + Retry-After
                raise
            except Exception:  # any inference failure: the comments go to review, the service stays up
                log.exception(
                    "model inference failed for %d comment(s); verdicts fall back to review", len(todo)
                )
                self.stats.model_failures += 1
                model_failed = True

        for i in todo:
            results[i] = self._verdict(rules.policy, ids[i], matches[i], scores.get(i), model_failed)
        final = [r for r in results if r is not None]
        if not counted:  # a pre-check: no decision was made
            return final, part_scores
        for v in final:
            self.stats.verdicts[v.verdict] += 1
        # Once verdicts exist they are cached and recorded in full even if the caller is cancelled now (a
        # client that hung up): a half-recorded comment (logged but without a status) would be worse.
        if do_not_store:
            return await asyncio.shield(self._count_only(final)), part_scores
        fresh = [(digests[i], results[i]) for i in todo] if self.cache and not model_failed else []
        return await asyncio.shield(self._conclude(comments, final, fresh)), part_scores

    async def _conclude(
        self, comments: Sequence[Comment], final: list[Verdict], fresh: list[tuple[str, Verdict | None]]
    ) -> list[Verdict]:
        await self._cache_set([(digest, verdict) for digest, verdict in fresh if verdict is not None])
        return await self._record(comments, final)

    async def _count_only(self, verdicts: list[Verdict]) -> list[Verdict]:
        """Step 6 for comments that must leave nothing behind: counted, not recorded (no status token)."""
        if self.decisions is None:
            return verdicts
        try:
            await self.decisions.count(verdicts)
        except StoreUnavailable as exc:
            self.stats.record_errors += 1
            log.warning("decision store unavailable, %d verdict(s) not counted: %s", len(verdicts), exc)
        except Exception:  # a bug in counting must not cost the commenter their verdict
            self.stats.record_errors += 1
            log.exception("counting %d verdict(s) failed", len(verdicts))
        return verdicts

    async def _record(self, comments: Sequence[Comment], verdicts: list[Verdict]) -> list[Verdict]:
        """Step 6: statuses, the decision log, counters, review queue. Returns the verdicts to answer: with
        their status tokens, or the verdict recorded first for a repeat. A verdict is never lost to store
        trouble: its record goes to the journal (the token it goes out with is valid once replayed), or,
        without a journal or past its bound, the verdict goes out unrecorded, without a token. Another text
        under a taken id is IdConflict (not known while the journal holds the record)."""
        if self.decisions is None:
            return verdicts
        comments = [c.model_copy(update={"id": v.id}) for c, v in zip(comments, verdicts, strict=True)]
        try:
            records = self.decisions.prepare(comments, verdicts)
        except Exception:  # a bug in preparing must not cost the commenter their verdict
            self.stats.record_errors += 1
            log.exception("preparing %d record(s) failed", len(verdicts))
            return verdicts
        if self.journal is not None and self.journal.holding and not self.journal.full:
            # Records wait in the journal: new ones queue behind them rather than overtake them, so that of
            # two records for one comment the older is written first (the first writer owns the status). A
            # full journal draining while Redis is back is overtaken instead: a record written out of order
            # (its comment then sent twice within the outage) beats one dropped.
            return await self._journaled(records, verdicts)
        try:
            outcomes = await self.decisions.write(records)
        except StoreUnavailable as exc:
            self.stats.record_errors += 1
            if self.journal is not None:
                # Whatever of them was written before the store went is written again as nothing on replay:
                # a record's id makes its second write a no-op.
                log.debug("decision log unavailable, %d record(s) journaled: %s", len(records), exc)
                return await self._journaled(records, verdicts)
            log.warning("decision log unavailable, %d verdict(s) not recorded: %s", len(verdicts), exc)
            return verdicts
        except Exception:  # a bug in recording must not cost the commenter their verdict
            self.stats.record_errors += 1
            log.exception("recording %d verdict(s) failed", len(verdicts))
            return verdicts
        for index, outcome in enumerate(outcomes):
            if outcome.outcome == "conflict":
                raise IdConflict(index, outcome.verdict.id)
        return [outcome.verdict for outcome in outcomes]

    async def _journaled(self, records: list[PendingRecord], verdicts: list[Verdict]) -> list[Verdict]:
        """Append `records` to the journal; the verdicts with their tokens, untokened past the bound."""
        assert self.journal is not None
        taken = await self.journal.add(records)
        return [r.verdict for r in records[:taken]] + verdicts[taken:]

    def _match(self, wordlist: WordList, text: str, lang: str | None) -> Matched:
        """Step 3, in a matching thread: the word list's matches that count in the comment's language (given
        as `lang`, else detected when something matched), capped; how many the cap left out; the language."""
        matches, language = self.languages.judge(text, lang, wordlist.find(text))
        kept = cap_matches(matches, self.max_matches)
        return kept, len(matches) - len(kept), language

    def _verdict(
        self,
        policy: Policy,
        comment_id: str,
        matched: Matched,
        scores: dict[str, float] | None,
        model_failed: bool,
    ) -> Verdict:
        matches, omitted, language = matched
        outcome = apply_policy(
            policy, matches, scores, model_failed=model_failed, max_reasons=self.max_reasons
        )
        return Verdict(
            id=comment_id,
            verdict=outcome.verdict,
            reasons=outcome.reasons,
            reasons_omitted=outcome.reasons_omitted,
            notice=outcome.notice,
            scores={k: round(float(v), 6) for k, v in (scores or {}).items()},
            profanity=Profanity(matches=matches, capped=omitted > 0, omitted=omitted, language=language),
            cached=False,
            model_consulted=scores is not None,
            policy_version=policy.version,
            model=self.scorer.model_id,
        )

    async def _score(self, texts: list[str]) -> list[dict[str, float]]:
        self.stats.model_calls += 1
        result = await self.batcher.score(texts)
        if len(result) != len(texts):
            raise RuntimeError(f"model returned {len(result)} score sets for {len(texts)} comments")
        for scores in result:
            for category, value in scores.items():
                # NaN would compare false against every threshold and turn into an accept.
                if not (isinstance(value, float | int) and 0.0 <= value <= 1.0):
                    raise RuntimeError(f"model returned {value!r} for {category}, not a probability")
        return result

    async def _cache_get(self, digests: Sequence[str]) -> list[Verdict | None]:
        """The cached verdict of each digest (None: a miss), all in one store round trip."""
        if not digests:
            return []
        try:
            raws = await self.store.get_verdicts(digests)
        except StoreUnavailable as exc:
            self.stats.cache_errors += len(digests)
            log.debug("verdict cache unavailable, scoring uncached: %s", exc)  # the store logs outages once
            return [None] * len(digests)
        found: list[Verdict | None] = []
        for digest, raw in zip(digests, raws, strict=True):
            verdict = None
            if raw is not None:
                try:
                    verdict = Verdict.model_validate(raw)
                except ValueError:
                    log.warning("ignoring a cached verdict that no longer parses (digest %s)", digest)
            if verdict is None:
                self.stats.cache_misses += 1
            else:
                self.stats.cache_hits += 1
            found.append(verdict)
        return found

    async def _cache_set(self, fresh: Sequence[tuple[str, Verdict]]) -> None:
        """Cache fresh verdicts, all in one store round trip."""
        if not fresh:
            return
        # The tokens are one comment's: never in the cache, which serves the same text to others.
        raws = [
            (digest, v.model_dump(mode="json", exclude={"status_token", "appeal_token"}))
            for digest, v in fresh
        ]
        try:
            await self.store.set_verdicts(raws, self.cache_ttl_s)
        except StoreUnavailable as exc:
            self.stats.cache_errors += len(fresh)
            log.debug("verdict cache unavailable, verdicts not cached: %s", exc)
