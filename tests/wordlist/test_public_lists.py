"""The public word-list files (issue 11, item 3): rules/wordlist/ldnoobw-en.txt, cuss-en.txt, obscenity-en.txt."""

import pathlib
import re

import pytest

from service.moderation.types import WORDLIST_TIERS
from service.wordlist.matcher import WordList
from service.wordlist.rules import PUBLIC_FILES, WordListError, load_entries, parse_rules_file

from .conftest import RULES

FOLDER = RULES / "wordlist"

# Each file's header must name its package, version, upstream and licence.
SOURCES = {
    "ldnoobw-en.txt": ("naughty-words 1.2.0", "github.com/LDNOOBW/", "CC-BY-4.0"),
    "cuss-en.txt": ("cuss 2.2.0", "github.com/words/cuss", "MIT"),
    "obscenity-en.txt": ("obscenity 0.4.6", "github.com/jo3-l/obscenity", "MIT"),
}

# Words that name a people, a faith, a nationality or a sexuality: never a term, whatever the source says.
IDENTITY = [
    "gay", "gays", "lesbian", "lesbians", "bisexual", "homosexual", "heterosexual", "queer", "trans",
    "transgender", "transsexual", "transvestite", "jew", "jews", "jewish", "muslim", "muslims", "moslem",
    "islam", "christian", "catholic", "protestant", "hindu", "hindoo", "sikh", "black", "blacks", "white",
    "whites", "african", "asian", "arab", "arabs", "mexican", "chinese", "japanese", "nigerian", "german",
    "israeli", "palestinian", "gypsy", "gypsies", "roma", "goy", "goyim", "latino", "immigrant", "refugee",
]  # fmt: skip

# Slurs the public files add (better-profanity's list has none of them), each used as a whole word.
SLURS = [
    ("Go home, you beaner.", "beaner"),
    ("Another towelhead on the bus.", "towelhead"),
    ("The darkies next door are loud.", "darkies"),
    ("Look at that jungle bunny.", "jungle bunny"),
    ("Zipperheads run that shop.", "zipperheads"),
    ("Wogs are not welcome here.", "wogs"),
    ("He is a dirty yid.", "yid"),
    ("Porch monkey, get off my lawn.", "porch monkey"),
    ("Some spearchucker moved in.", "spearchucker"),
    ("That golliwog on the council again.", "golliwog"),
    ("Pikey scum stole my bike.", "pikey"),
    ("The hymies own the banks.", "hymies"),
]


def _raw_entry_lines(path: pathlib.Path) -> list[tuple[str, str]]:
    """(section header, raw line) for every entry line of a rules file."""
    section = ""
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        out.append((section, raw))
    return out


def test_public_files_are_the_ones_loaded() -> None:
    assert set(PUBLIC_FILES) == set(SOURCES)
    sources = {e.source for e in load_entries(RULES).values()}
    assert set(PUBLIC_FILES) <= sources


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_header_names_source_and_licence(name: str) -> None:
    text = (FOLDER / name).read_text(encoding="utf-8")
    header = text.split("\n[", 1)[0]
    package, upstream, licence = SOURCES[name]
    source = re.search(r"^# Source: (.*)$", header, re.M)
    licence_line = re.search(r"^# Licence: (.*)$", header, re.M)
    assert source is not None and package in source.group(1) and upstream in source.group(1)
    assert licence_line is not None and licence_line.group(1).startswith(licence)
    if licence.startswith("CC-BY"):
        assert re.search(r"^# Attribution: ", header, re.M), "a CC-BY source must be attributed"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_header_counts_match_the_entries(name: str) -> None:
    path = FOLDER / name
    entries = parse_rules_file(path, WORDLIST_TIERS)
    taken = re.search(
        r"^# Taken: (\d+) of the (\d+) distinct entries\. Left out \((\d+)\)", path.read_text(), re.M
    )
    assert taken is not None
    n_taken, n_all, n_left = map(int, taken.groups())
    assert n_taken == len(entries) and n_taken + n_left == n_all


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_entry_has_a_tier_and_a_clause(name: str) -> None:
    entries = parse_rules_file(FOLDER / name, WORDLIST_TIERS)
    assert entries
    for number, e in entries:
        assert e.tier in ("reject", "review", "ambiguous"), f"{name}:{number}: {e.term} is {e.tier}"
        assert e.clause is not None, f"{name}:{number}: {e.term} has no clause"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_ambiguous_entry_says_why(name: str) -> None:
    ambiguous = [raw for section, raw in _raw_entry_lines(FOLDER / name) if section.startswith("[ambiguous")]
    for raw in ambiguous:
        assert "#" in raw and raw.split("#", 1)[1].strip(), f"{name}: {raw.strip()!r} gives no innocent sense"


def test_entries_are_unique_across_public_files_and_new_to_better_profanity() -> None:
    seen: dict[str, str] = {}
    for name in PUBLIC_FILES:
        for _number, e in parse_rules_file(FOLDER / name, WORDLIST_TIERS):
            key = e.term.lower()
            assert key not in seen, f"{key!r} is in {seen.get(key)} and {name}"
            seen[key] = name
    entries = load_entries(RULES)
    for key, name in seen.items():
        assert entries[key].source == name  # nothing in better-profanity.txt or the site files overrides it


def test_no_identity_word_is_a_term(wordlist: WordList) -> None:
    entries = load_entries(RULES)
    for word in IDENTITY:
        e = entries.get(word)
        assert e is None or e.tier == "allow", f"{word!r} is a {e.tier} term in {e.source}"
    sentence = "Proud to stand with my {} neighbours, friends and colleagues."
    for word in IDENTITY:
        assert wordlist.find(sentence.format(word)) == [], word


@pytest.mark.parametrize(("text", "term"), SLURS)
def test_slurs_from_the_public_files_are_found(wordlist: WordList, text: str, term: str) -> None:
    entries = load_entries(RULES)
    assert entries[term].source in PUBLIC_FILES
    found = [(m.term, m.clause) for m in wordlist.find(text)]
    assert (term, "derogatory") in found, found


@pytest.mark.parametrize(
    "text",
    [
        # Ordinary words that a left-out entry would read once a doubled letter counts once.
        "The collie herded the sheep past the milk jugs.",
        "A party popper went off; the dodo is extinct.",
        "Two bobbies walked the beat, and the building topples.",
        "Aspirate the fluid gently.",
        # Phrases of common words left out of the LDNOOBW list.
        "The girl on top of the hill tied up the boat and took a hot chick pea salad.",
    ],
)
def test_left_out_entries_stay_out(wordlist: WordList, text: str) -> None:
    assert wordlist.find(text) == [], text


def test_a_public_file_may_not_repeat_a_better_profanity_term(rules_copy: pathlib.Path) -> None:
    path = rules_copy / "wordlist" / "cuss-en.txt"
    path.write_text(path.read_text() + "\n[review obscene]\nshit\n")
    with pytest.raises(WordListError, match=r"cuss-en\.txt:.*better-profanity's list"):
        load_entries(rules_copy)


def test_a_term_may_appear_in_one_public_file_only(rules_copy: pathlib.Path) -> None:
    term = parse_rules_file(FOLDER / "ldnoobw-en.txt", WORDLIST_TIERS)[0][1].term
    path = rules_copy / "wordlist" / "obscenity-en.txt"
    path.write_text(path.read_text() + f"\n[review obscene]\n{term}\n")
    with pytest.raises(WordListError, match=r"obscenity-en\.txt:.*already listed at ldnoobw-en\.txt:"):
        load_entries(rules_copy)


def test_site_files_override_the_public_files(rules_copy: pathlib.Path) -> None:
    (rules_copy / "wordlist" / "site-allow.txt").write_text("[allow]\nbeaner\n")
    wl = WordList.load(rules_copy)
    assert wl.find("Go home, you beaner.") == []
