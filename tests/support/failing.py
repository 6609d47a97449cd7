"""A wrapper around a real store that counts its calls and can fail one of them: for tests of what a failure
between two steps leaves behind, and of how many round trips a batch costs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from service.store.base import StoreUnavailable


class CountingStore:
    """Forwards everything to `store`, recording the name of each async call in `calls`; call number `fail_at`
    (1-based; None: none) raises StoreUnavailable instead of reaching the store, as a Redis gone away would."""

    def __init__(self, store: Any, *, fail_at: int | None = None) -> None:
        self._store = store
        self.fail_at = fail_at
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        return self._counted(name, attr)

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if len(self.calls) == self.fail_at:
                raise StoreUnavailable(f"injected failure at call {self.fail_at} ({name})")
            return await method(*args, **kwargs)

        return call
