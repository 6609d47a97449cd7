"""The shipped word lists, loaded once for the session (loading takes seconds), and copies to edit."""

import pathlib
import shutil

import pytest

from service.wordlist.matcher import WordList

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="session")
def wordlist() -> WordList:
    return WordList.load(RULES)


@pytest.fixture
def rules_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """A rules folder holding a copy of the shipped word-list files, for a test to change."""
    shutil.copytree(RULES / "wordlist", tmp_path / "wordlist")
    return tmp_path
