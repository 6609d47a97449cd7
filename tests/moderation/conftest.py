"""Fixtures shared by the domain tests: the shipped word lists, and the tiny Detoxify checkpoint."""

import pathlib
from collections.abc import Iterator

import pytest
import torch

from service.moderation.wordlist import WordList
from tests.fixtures.detoxify_checkpoints import build_tiny_checkpoint

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="session")
def wordlist() -> WordList:
    return WordList.load(RULES)


@pytest.fixture(autouse=True)
def keep_torch_threads() -> Iterator[None]:
    """Scorers set torch's thread count; no test may leave it changed for the next."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("models") / "tiny")
