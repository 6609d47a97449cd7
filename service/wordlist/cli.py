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

from service.config import DEFAULT_RULES_DIR


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
        for line in sys.stdin:
            text = line.rstrip("\n")
            matches = wordlist.find(text)
            record = {
                "text": text,
                "wordlist_version": wordlist.version,
                "matches": [m.model_dump() for m in matches],
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
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
