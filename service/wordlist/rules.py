"""Reading the word-list rules: better-profanity's installed list and the files under rules/wordlist/.

File format (the header of rules/wordlist/better-profanity.txt says the same for reviewers):

    [TIER CLAUSE]     section header; TIER reject | review | ambiguous | allow; CLAUSE obscene | derogatory |
                      personal (none for allow). An ambiguous term has a common innocent sense ("cock" the
                      bird): the model decides (rules/policy.yaml, wordlist.ambiguous).
    term              one term or phrase per line
    term | stem       a stem: dictionary words and names that split into it (perhaps inflected) and other
                      words are derivatives ("shit|storm"), not benign words (compounds.py)
    # comment

Precedence, lowest first: better-profanity's list (default reject / obscene) < better-profanity.txt
(classification) < the public files (ldnoobw-en.txt < cuss-en.txt < obscenity-en.txt) < site-suspect.txt <
site-block.txt < site-allow.txt. Within the classification file a term may appear once. The public files
extend the vocabulary beyond better-profanity's list with terms from other public word lists (each file's
header names its source and licence): a term there must not be in better-profanity's list, and may appear
once across all of them.
"""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from service.moderation.types import CLAUSES, Clause, WordlistTier
from service.moderation.types import WORDLIST_TIERS as TIERS

CLASSIFICATION_FILE = "better-profanity.txt"
# Terms from other public word lists, in precedence order (lowest first); each may use any tier.
PUBLIC_FILES: tuple[str, ...] = ("ldnoobw-en.txt", "cuss-en.txt", "obscenity-en.txt")
SITE_FILES: dict[str, tuple[WordlistTier, ...]] = {
    # file name → the tiers its sections may use
    "site-suspect.txt": ("review", "ambiguous"),
    "site-block.txt": ("reject",),
    "site-allow.txt": ("allow",),
}
# Looking a section's words up here both checks them and gives them their Literal type.
_TIER_NAMED: dict[str, WordlistTier] = {t: t for t in TIERS}
_CLAUSE_NAMED: dict[str, Clause] = {c: c for c in CLAUSES}


class WordListError(Exception):
    """A rules file could not be read: the message names the file, the line and the reason."""


@dataclass(frozen=True)
class Entry:
    term: str
    tier: WordlistTier
    clause: Clause | None
    """None for the allow tier, which names no clause."""
    stem: bool
    source: str


def entries_digest(entries: Mapping[str, Entry]) -> str:
    """sha256 over every effective entry: the word list's identity (its version is the first 12 digits)."""
    digest = hashlib.sha256()
    for term in sorted(entries):
        e = entries[term]
        digest.update(f"{term}\t{e.tier}\t{e.clause}\t{e.stem}\n".encode())
    return digest.hexdigest()


def better_profanity_path() -> pathlib.Path:
    return pathlib.Path(str(resources.files("better_profanity").joinpath("profanity_wordlist.txt")))


def read_better_profanity() -> list[str]:
    path = better_profanity_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WordListError(f"{path}: cannot read better-profanity's word list: {exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_rules_file(path: pathlib.Path, allowed_tiers: tuple[WordlistTier, ...]) -> list[tuple[int, Entry]]:
    """Parse one rules file into (line number, entry) pairs."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WordListError(f"{path}: cannot read: {exc}") from exc
    tier: WordlistTier | None = None
    clause: Clause | None = None
    out: list[tuple[int, Entry]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        where = f"{path}:{number}"
        if line.startswith("["):
            if not line.endswith("]"):
                raise WordListError(f"{where}: section header {line!r} lacks its closing ']'")
            parts = line[1:-1].split()
            tier = _TIER_NAMED.get(parts[0]) if parts else None
            if tier is None:
                raise WordListError(f"{where}: unknown tier in {line!r}; expected one of {', '.join(TIERS)}")
            if tier not in allowed_tiers:
                raise WordListError(
                    f"{where}: tier {tier!r} does not belong in {path.name} "
                    f"(allowed: {', '.join(allowed_tiers)})"
                )
            if tier == "allow":
                if len(parts) != 1:
                    raise WordListError(f"{where}: an [allow] section takes no clause: {line!r}")
                clause = None
            else:
                clause = _CLAUSE_NAMED.get(parts[1]) if len(parts) == 2 else None
                if clause is None:
                    raise WordListError(
                        f"{where}: section {line!r} needs a clause, one of {', '.join(CLAUSES)}"
                    )
            continue
        if tier is None:
            raise WordListError(f"{where}: entry {line!r} comes before any [tier clause] section")
        fields = [f.strip() for f in line.split("|")]
        term = fields[0]
        flags = fields[1:]
        if not term:
            raise WordListError(f"{where}: empty term")
        for flag in flags:
            if flag != "stem":
                raise WordListError(f"{where}: unknown flag {flag!r} on {term!r} (the only flag is 'stem')")
        out.append(
            (number, Entry(term=term, tier=tier, clause=clause, stem="stem" in flags, source=path.name))
        )
    return out


def rules_files(rules_dir: pathlib.Path) -> list[pathlib.Path]:
    """Every file whose change means a reload (the classification, the site files, the package list)."""
    folder = rules_dir / "wordlist"
    files = [folder / CLASSIFICATION_FILE]
    files += [folder / name for name in PUBLIC_FILES] + [folder / name for name in SITE_FILES]
    return [better_profanity_path()] + [f for f in files if f.exists()]


def load_entries(rules_dir: pathlib.Path) -> dict[str, Entry]:
    """Term (lower-cased as written) → effective entry after precedence."""
    folder = rules_dir / "wordlist"
    if not folder.is_dir():
        raise WordListError(f"{folder}: the word-list rules folder does not exist")
    listed = read_better_profanity()
    entries: dict[str, Entry] = {
        t.lower(): Entry(
            term=t.lower(), tier="reject", clause="obscene", stem=False, source="better-profanity"
        )
        for t in listed
    }
    classification = folder / CLASSIFICATION_FILE
    if classification.exists():
        seen: dict[str, int] = {}
        for number, entry in parse_rules_file(classification, TIERS):
            key = entry.term.lower()
            if key not in entries:
                raise WordListError(
                    f"{classification}:{number}: {entry.term!r} is not in better-profanity's list "
                    "(put site terms in site-block.txt or site-suspect.txt)"
                )
            if key in seen:
                raise WordListError(
                    f"{classification}:{number}: {entry.term!r} is already classified on line {seen[key]}"
                )
            seen[key] = number
            entries[key] = Entry(key, entry.tier, entry.clause, entry.stem, entry.source)
    listed_keys = {t.lower() for t in listed}
    public: dict[str, str] = {}  # term → "file:line" of the public file that holds it
    for name in PUBLIC_FILES:
        path = folder / name
        if not path.exists():
            continue
        for number, entry in parse_rules_file(path, TIERS):
            key = entry.term.lower()
            if key in listed_keys:
                raise WordListError(
                    f"{path}:{number}: {entry.term!r} is in better-profanity's list "
                    f"(classify it in {CLASSIFICATION_FILE})"
                )
            if key in public:
                raise WordListError(f"{path}:{number}: {entry.term!r} is already listed at {public[key]}")
            public[key] = f"{name}:{number}"
            entries[key] = Entry(key, entry.tier, entry.clause, entry.stem, entry.source)
    for name in ("site-suspect.txt", "site-block.txt", "site-allow.txt"):
        path = folder / name
        if not path.exists():
            continue
        for _number, entry in parse_rules_file(path, SITE_FILES[name]):
            key = entry.term.lower()
            entries[key] = Entry(key, entry.tier, entry.clause, entry.stem, entry.source)
    return entries
