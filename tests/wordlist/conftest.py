"""The shipped word lists, loaded once for the session (loading takes seconds)."""

import pathlib

import pytest

from service.wordlist.matcher import WordList

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="session")
def wordlist() -> WordList:
    return WordList.load(RULES)
