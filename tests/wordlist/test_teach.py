"""service/wordlist/teach.py: a taught term written into a site file, atomically, under a lock, in format."""

from __future__ import annotations

import pathlib
import shutil
import threading

import pytest

from service.wordlist.rules import load_entries, parse_rules_file
from service.wordlist.teach import (
    Limits,
    TeachRefused,
    add_term,
    normalise_term,
    proposed_copy,
    rules_writable,
)

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
LIMITS = Limits(term_max_chars=60, file_max_entries=50, file_max_bytes=64 * 1024)


@pytest.fixture
def rules_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    shutil.copytree(RULES, tmp_path / "rules")
    return tmp_path / "rules"


def test_normalise_folds_as_the_files_do_and_refuses_what_they_cannot_hold() -> None:
    assert normalise_term("  Salt\tWater ", 60) == "salt water"
    assert (
        normalise_term("Ｂｌｏｏｄｙ", 60) == "ｂｌｏｏｄｙ"
    )  # NFC keeps width; the matcher folds it like a comment
    for bad, why in (
        ("", "empty"),
        ("a#b", "comment"),
        ("a|stem", "flag"),
        ("[allow]", "section"),
        ("x\u200by", "invisible"),
        ("x" * 61, "at most 60"),
    ):
        with pytest.raises(TeachRefused, match=why):
            normalise_term(bad, 60)


def test_add_keeps_the_header_and_entries_and_the_lists_load(rules_dir: pathlib.Path) -> None:
    block = rules_dir / "wordlist" / "site-block.txt"
    before = block.read_text()
    add_term(rules_dir, "block", "Gobshite", "personal", LIMITS)
    add_term(rules_dir, "block", "snorfwit", "obscene", LIMITS)
    text = block.read_text()
    assert text.startswith(before.split("[reject obscene]")[0])
    assert "[reject obscene]\nsnorfwit\n\n[reject derogatory]" in text
    assert text.endswith("[reject personal]\ngobshite\n")
    entries = load_entries(rules_dir)
    assert entries["gobshite"].tier == "reject" and entries["gobshite"].clause == "personal"
    assert entries["gobshite"].source == "site-block.txt"
    with pytest.raises(TeachRefused, match=r"already in site-block\.txt"):
        add_term(rules_dir, "block", "GOBSHITE", "derogatory", LIMITS)


def test_a_missing_section_is_appended(rules_dir: pathlib.Path) -> None:
    allow = rules_dir / "wordlist" / "site-allow.txt"
    allow.write_text("# only a comment, no section")
    add_term(rules_dir, "allow", "saltwater", None, LIMITS)
    assert allow.read_text() == "# only a comment, no section\n\n[allow]\nsaltwater\n"
    assert [e.term for _, e in parse_rules_file(allow, ("allow",))] == ["saltwater"]


def test_limits_on_entries_and_bytes(rules_dir: pathlib.Path) -> None:
    small = Limits(term_max_chars=60, file_max_entries=2, file_max_bytes=64 * 1024)
    add_term(rules_dir, "allow", "one", None, small)
    add_term(rules_dir, "allow", "two", None, small)
    with pytest.raises(TeachRefused, match="holds 2 entries, its limit"):
        add_term(rules_dir, "allow", "three", None, small)
    tiny = Limits(term_max_chars=60, file_max_entries=50, file_max_bytes=300)
    with pytest.raises(TeachRefused, match="size limit"):
        add_term(rules_dir, "allow", "four", None, tiny)


def test_concurrent_additions_lose_none(rules_dir: pathlib.Path) -> None:
    terms = [f"word{i}" for i in range(16)]
    errors: list[BaseException] = []

    def add(term: str) -> None:
        try:
            add_term(rules_dir, "allow", term, None, LIMITS)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(t,)) for t in terms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    written = [e.term for _, e in parse_rules_file(rules_dir / "wordlist" / "site-allow.txt", ("allow",))]
    assert sorted(written) == sorted(terms)


def test_the_proposal_is_a_copy_and_the_rules_stay_as_they_were(
    rules_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    allow = rules_dir / "wordlist" / "site-allow.txt"
    before = allow.read_text()
    copy = proposed_copy(rules_dir, tmp_path / "scratch", "allow", "Saltwater", None, LIMITS)
    assert (copy / "wordlist" / "site-allow.txt").read_text().endswith("[allow]\nsaltwater\n")
    assert allow.read_text() == before
    assert rules_writable(rules_dir)
    assert not rules_writable(tmp_path / "nowhere")
