"""`moderation rescore --ray`: the in-process judge, run by Ray Data `map_batches` on a pool of actors.

Each actor builds its judge once with the factory it is handed (`service.rescore.judges` hands it the very
judge the local path runs: policy, word lists, model from the same Settings), so the verdicts are the local
path's. This module never builds a judge itself, which is what keeps it below `judges` (no cycle). The driver
keeps reading, checking, checkpointing and writing (`service.rescore.run`); Ray Data gets the rows a window at
a time and hands the verdicts back in order (`preserve_order`). Needs the optional `ray` extra
(`pip install 'comment-moderation[ray]'`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from service.rescore.errors import RescoreError

log = logging.getLogger("service.rescore")


class BatchJudge(Protocol):
    """What an actor runs: verdicts (the API's JSON) for (id, text) pairs, in order."""

    identity: dict[str, str]

    def judge(self, comments: Sequence[tuple[str, str]]) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class JudgeFactory(Protocol):
    """Builds a BatchJudge on the cluster; it must pickle (a module-level class or a partial of one)."""

    def __call__(self, *, threads: int) -> BatchJudge: ...


def _import_ray() -> Any:
    # Ray is an optional extra (about 500 MB, a second or more to import): only --ray pays for it, and
    # `moderation --help` or a local run never need it installed.
    try:
        import ray
    except ImportError as exc:
        raise RescoreError(
            "--ray needs Ray Data: pip install 'comment-moderation[ray]' (or 'ray[data]>=2.9')"
        ) from exc
    return ray


class RescoreActor:
    """A Ray Data callable class: one judge per actor, a batch of {id, text} in, {verdict_json} out."""

    def __init__(self, make_judge: JudgeFactory, threads: int) -> None:
        self.judge = make_judge(threads=threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        verdicts = self.judge.judge(list(zip(batch["id"].tolist(), batch["text"].tolist(), strict=True)))
        return {"verdict_json": np.array([json.dumps(v, ensure_ascii=False) for v in verdicts], dtype=object)}


def _identity(make_judge: JudgeFactory) -> dict[str, str]:
    judge = make_judge(threads=1)
    try:
        return judge.identity
    finally:
        judge.close()


class RayRunner:
    """A Ray runtime (joined, or started and owned) and the Ray Data job that judges a list of comments."""

    def __init__(
        self, address: str, *, actors: int, batch_size: int, make_judge: JudgeFactory, threads: int
    ) -> None:
        ray = _import_ray()
        self._owns_runtime = not ray.is_initialized()
        if self._owns_runtime:
            ray.init(
                address=None if address == "local" else address, log_to_driver=False, include_dashboard=False
            )
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.execution_options.preserve_order = True  # verdicts come back in input order
            ctx.enable_progress_bars = False  # the driver shows its own
            # The identity (policy, word lists, model id) for the checkpoint fingerprint, computed where the
            # actors compute theirs: on the cluster, which may hold a model file the driver does not.
            self.identity: dict[str, str] = ray.get(
                ray.remote(_identity).options(num_cpus=0).remote(make_judge)
            )
        except BaseException:
            self.close()  # a runtime this runner started does not outlive it
            raise
        self.actors, self.batch_size, self.make_judge, self.threads = actors, batch_size, make_judge, threads

    def judge(self, comments: Sequence[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        ray = _import_ray()
        items = ray.data.from_items([{"id": i, "text": t} for i, t in comments])
        judged = items.map_batches(
            RescoreActor,
            fn_constructor_kwargs={"make_judge": self.make_judge, "threads": self.threads},
            batch_size=self.batch_size,
            batch_format="numpy",
            concurrency=self.actors,
            num_cpus=1,
        )
        for row in judged.iter_rows():
            yield json.loads(row["verdict_json"])

    def close(self) -> None:
        ray = _import_ray()
        if self._owns_runtime and ray.is_initialized():
            ray.shutdown()
