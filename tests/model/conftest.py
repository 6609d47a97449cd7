"""The tiny Detoxify checkpoint the model tests load, and a guard on torch's thread count."""

import pathlib
from collections.abc import Iterator

import pytest
import torch

from service.model.demo import build_tiny_checkpoint


@pytest.fixture(autouse=True)
def keep_torch_threads() -> Iterator[None]:
    """Scorers set torch's thread count; no test may leave it changed for the next."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("models") / "tiny")
