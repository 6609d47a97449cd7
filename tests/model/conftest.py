"""The tiny Detoxify checkpoint the model tests load, a guard on torch's thread count, and no network.

No test may reach the network. `no_network` (one per module) puts the Hugging Face hub in offline mode and
refuses and records every socket connection or name lookup, so a test that silently fell back to the
network fails, or leaves a trace a test can check; `network_attempts` does the same for one test alone, for
tests that check that nothing was tried.
"""

import pathlib
import socket
from collections.abc import Callable, Iterator

import pytest
import torch

from service.model.demo import build_tiny_checkpoint


class NetworkUsed(OSError):
    """Raised in place of a connection: an OSError, as a real network failure would be."""


@pytest.fixture(autouse=True)
def keep_torch_threads() -> Iterator[None]:
    """Scorers set torch's thread count; no test may leave it changed for the next."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("models") / "tiny")


def _refuse(what: str, attempts: list[str]) -> Callable[..., None]:
    def refused(*args: object, **kwargs: object) -> None:
        attempts.append(f"{what}{args[1:2] if what == 'connect' else args[:1]}")
        raise NetworkUsed(f"network disabled in tests ({what})")

    return refused


def _offline(mp: pytest.MonkeyPatch, attempts: list[str]) -> None:
    import huggingface_hub.constants

    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    # huggingface_hub reads the variable once, at import, which may have happened already.
    mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    mp.setattr(socket.socket, "connect", _refuse("connect", attempts))
    mp.setattr(socket, "getaddrinfo", _refuse("getaddrinfo", attempts))


@pytest.fixture(scope="module")
def no_network() -> Iterator[list[str]]:
    """Offline hub, and every socket connect / name lookup refused and recorded, for a whole module."""
    attempts: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp, attempts)
        yield attempts


@pytest.fixture
def network_attempts() -> Iterator[list[str]]:
    """As `no_network`, for one test: the list holds only what this test tried."""
    attempts: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp, attempts)
        yield attempts
