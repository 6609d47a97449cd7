"""`moderation rescore --ray`: the same Judge, run by Ray Data `map_batches` on a pool of actors.

Each actor builds the pipeline once (policy, word lists, model: `service.rescore.Judge`, exactly what the
local path runs), so the verdicts are the local path's. The driver keeps reading, checking, checkpointing and
writing (service.rescore); Ray Data gets the rows a window at a time and hands the verdicts back in order
(`preserve_order`). Needs the optional `ray` extra (`pip install 'comment-moderation[ray]'`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from service.config import Settings

log = logging.getLogger("service.rescore")


class RescoreActor:
    """A Ray Data callable class: one Judge per actor, a batch of {id, text} in, {verdict_json} out."""

    def __init__(self, settings: Settings, batch_size: int, scorer_factory: Any = None) -> None:
        from service.rescore.run import Judge

        self.judge = Judge(
            settings,
            batch_size=batch_size,
            scorer_factory=scorer_factory,
            threads=settings.MODEL_THREADS or 1,
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        verdicts = self.judge.judge(list(zip(batch["id"].tolist(), batch["text"].tolist(), strict=True)))
        return {"verdict_json": np.array([json.dumps(v, ensure_ascii=False) for v in verdicts], dtype=object)}


def _identity(settings: Settings, batch_size: int, scorer_factory: Any) -> dict[str, str]:
    from service.rescore.run import Judge

    judge = Judge(settings, batch_size=batch_size, scorer_factory=scorer_factory, threads=1)
    try:
        return judge.identity
    finally:
        judge.close()


class RayRunner:
    def __init__(
        self, settings: Settings, address: str, *, actors: int, batch_size: int, scorer_factory: Any = None
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            from service.rescore.run import RescoreError

            raise RescoreError(
                "--ray needs Ray Data: pip install 'comment-moderation[ray]' (or 'ray[data]>=2.9')"
            ) from exc
        self._owns_runtime = not ray.is_initialized()
        if self._owns_runtime:
            ray.init(
                address=None if address == "local" else address, log_to_driver=False, include_dashboard=False
            )
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # verdicts come back in input order
        ctx.enable_progress_bars = False  # the driver shows its own
        self.settings, self.actors, self.batch_size, self.scorer_factory = (
            settings,
            actors,
            batch_size,
            scorer_factory,
        )
        # The identity (policy, word lists, model id) for the checkpoint fingerprint, computed where the
        # actors compute theirs: on the cluster, which may hold a model file the driver does not.
        self.identity: dict[str, str] = ray.get(
            ray.remote(_identity).options(num_cpus=0).remote(settings, batch_size, scorer_factory)
        )

    def judge(self, comments: Sequence[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        import ray

        ds = ray.data.from_items([{"id": i, "text": t} for i, t in comments])
        ds = ds.map_batches(
            RescoreActor,
            fn_constructor_kwargs={
                "settings": self.settings, "batch_size": self.batch_size, "scorer_factory": self.scorer_factory,
            },
            batch_size=self.batch_size,
            batch_format="numpy",
            concurrency=self.actors,
            num_cpus=1,
        )  # fmt: skip
        for row in ds.iter_rows():
            yield json.loads(row["verdict_json"])

    def close(self) -> None:
        import ray

        if self._owns_runtime and ray.is_initialized():
            ray.shutdown()
