import pathlib

import pytest

from service.moderation.wordlist import WordList

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="session")
def wordlist() -> WordList:
    return WordList.load(RULES)
