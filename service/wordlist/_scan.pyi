# Types of the C extension built from _scan.c (see scan.py).
from collections.abc import Iterable

class Table:
    def __init__(
        self,
        clean: Iterable[str],
        half: Iterable[str],
        seed: int,
        hot: Iterable[str] = ...,
        /,
        *,
        exact: Iterable[str] = ...,
        grams: Iterable[str] = ...,
        firsts: Iterable[str] = ...,
        lasts: Iterable[str] = ...,
        placeholder: str = ...,
        mask: str = ...,
    ) -> None: ...
    def scan(self, view: str, /) -> tuple[set[str] | None, set[str] | None, int] | None: ...
    def may_play(self, token: str, /) -> bool: ...
    def filtering(self) -> bool: ...
    def size(self) -> int: ...
    def nbytes(self) -> int: ...

def repeats(s: str, /) -> bool: ...
