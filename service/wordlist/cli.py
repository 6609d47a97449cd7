"""`moderation check`: which listed terms a text contains, and which normalization steps revealed them.

`moderation check TEXT` prints the matches for a moderator asking "why was this flagged?";
`moderation check -` reads one text per line from stdin and writes one JSON line per text.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from service.config import DEFAULT_RULES_DIR

if TYPE_CHECKING:
    from service.moderation.types import WordMatch

# What `json.dumps(..., ensure_ascii=False)` writes for a string: quoted, with quotes, backslashes and
# control characters escaped (json's own C function). json.dumps with a keyword argument builds a new
# encoder on every call, which cost more than most comments' matching (`moderation check -`, issue 11).
_quote = json.encoder.encode_basestring


def default_rules_dir() -> pathlib.Path:
    env = os.environ.get("MODERATION_RULES_DIR")
    return pathlib.Path(env) if env else DEFAULT_RULES_DIR


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("check", help="show the word-list matches of a text, with their evidence")
    p.add_argument(
        "text", metavar="TEXT", help="the text to check, or - to read one text per line from stdin"
    )
    p.add_argument(
        "--rules",
        type=pathlib.Path,
        default=None,
        help="rules folder (default: MODERATION_RULES_DIR or the repository's rules/)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: every `moderation` command registers this one, and the engine's libraries would add a
    # tenth of a second to each, the container healthcheck's `moderation probe` too.
    from service.wordlist.matcher import WordList
    from service.wordlist.rules import WordListError

    try:
        wordlist = WordList.load(args.rules or default_rules_dir())
    except WordListError as exc:
        print(f"moderation check: {exc}", file=sys.stderr)
        return 2
    if args.text == "-":
        # One line per text, exactly as json.dumps(record, ensure_ascii=False) writes the record
        # {"text", "wordlist_version", "matches": [WordMatch.model_dump(), ...]} (tests/wordlist hold them
        # equal), built by hand: the version is quoted once, a text and each match's fields once each.
        middle = f", {_quote('wordlist_version')}: {_quote(wordlist.version)}, {_quote('matches')}: ["
        write = sys.stdout.write
        for line in sys.stdin:
            text = line.rstrip("\n")
            matches = wordlist.find(text)
            write(f'{{"text": {_quote(text)}{middle}{matches_json(matches) if matches else ""}]}}\n')
        return 0
    matches = wordlist.find(args.text)
    if not matches:
        print(f"no word-list match (word list {wordlist.version})")
        return 0
    print(
        f"{len(matches)} word-list match{'es' if len(matches) != 1 else ''} (word list {wordlist.version}):"
    )
    for m in matches:
        print(
            f"  [{m.start}:{m.end}] {m.text!r} → {m.term!r}  tier={m.tier} clause={m.clause}  "
            f"evidence: {', '.join(m.evidence)}"
        )
    return 0


def matches_json(matches: Sequence[WordMatch]) -> str:
    """The matches as json.dumps writes `[m.model_dump() for m in matches]`, without its brackets."""
    return ", ".join(
        f'{{"term": {_quote(m.term)}, "tier": {_quote(m.tier)}, "clause": {_quote(m.clause)}, '
        f'"start": {int(m.start)}, "end": {int(m.end)}, "text": {_quote(m.text)}, '
        f'"evidence": [{", ".join(map(_quote, m.evidence))}]}}'
        for m in matches
    )
