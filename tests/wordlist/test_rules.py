import pathlib

import pytest

from service.wordlist.matcher import WordList
from service.wordlist.rules import Entry, WordListError, entries_digest, load_entries

from .conftest import RULES


def test_site_files_block_suspect_allow(rules_copy: pathlib.Path, wordlist: WordList) -> None:
    rules = rules_copy
    (rules / "wordlist" / "site-block.txt").write_text("[reject personal]\ngobshite\n")
    (rules / "wordlist" / "site-suspect.txt").write_text("[review personal]\nnumpty\n")
    (rules / "wordlist" / "site-allow.txt").write_text("[allow]\ncrap\n")
    wl = WordList.load(rules)
    assert [(m.term, m.tier, m.clause) for m in wl.find("you g0bsh1te")] == [
        ("gobshite", "reject", "personal")
    ]
    assert [(m.term, m.tier) for m in wl.find("numpty")] == [("numpty", "review")]
    assert wl.find("oh crap") == []
    assert wl.version != wordlist.version


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[reject]\nfoo\n", "needs a clause"),
        ("[block obscene]\nfoo\n", "unknown tier"),
        ("foo\n", "before any"),
        ("[reject obscene]\nfoo | loud\n", "unknown flag"),
        ("[allow]\nfoo\n", "does not belong"),
    ],
)
def test_bad_rules_file_names_file_line_reason(rules_copy: pathlib.Path, content: str, reason: str) -> None:
    rules = rules_copy
    (rules / "wordlist" / "site-block.txt").write_text(content)
    with pytest.raises(WordListError) as err:
        WordList.load(rules)
    assert "site-block.txt:" in str(err.value) and reason in str(err.value)


def test_classification_must_name_listed_terms(rules_copy: pathlib.Path) -> None:
    rules = rules_copy
    path = rules / "wordlist" / "better-profanity.txt"
    path.write_text(path.read_text() + "\n[review obscene]\nnotaterm\n")
    with pytest.raises(WordListError, match="notaterm"):
        WordList.load(rules)


def test_allow_tier_holds_identity_terms(wordlist: WordList) -> None:
    for text in ("gay", "lesbians", "queer", "transsexual"):
        assert wordlist.find(f"I am {text}") == []


def test_entries_digest_is_the_effective_entries() -> None:
    # The digest is the word list's version, which verdict cache keys carry: it must change with any tier,
    # clause or stem flag, and with nothing else.
    entries = load_entries(RULES)
    assert entries_digest(dict(reversed(list(entries.items())))) == entries_digest(entries)
    term, entry = next((t, e) for t, e in entries.items() if e.tier == "reject")
    for changed in (
        Entry(entry.term, "review", entry.clause, entry.stem, entry.source),
        Entry(
            entry.term,
            entry.tier,
            "derogatory" if entry.clause != "derogatory" else "obscene",
            entry.stem,
            entry.source,
        ),
        Entry(entry.term, entry.tier, entry.clause, not entry.stem, entry.source),
    ):
        assert entries_digest({**entries, term: changed}) != entries_digest(entries)
    moved = Entry(entry.term, entry.tier, entry.clause, entry.stem, "site-block.txt")
    assert entries_digest({**entries, term: moved}) == entries_digest(entries)
