"""Word-list evaluation kit (issue 11, item 5): how often the engine and better-profanity 0.7.0 get labelled
comments right, group by group, side by side.

Run: `make eval`, or `python -m tests.benchmarks.eval_wordlist [--show-misses] [--json PATH] [--group G]`.

The cases are ours, written for this kit (tests/benchmarks/eval_cases/*.tsv); none comes from a public test
suite or word list, and none may: those are held out, to measure the engine on text it was not tuned to.
Each line of a case file is

    group <TAB> expected <TAB> text [<TAB> note]

`expected` is `yes` (a careful moderator of a news site, under the notice "Kindly refrain from using
derogatory, personal, or obscene words in your comments", would hold the comment back for its words) or `no`
(they would publish it). Every group is one direction (GROUPS below), so a group's figure is either its
recall (share of its comments flagged) or its false-positive rate (share flagged that should not be). Cases
whose label a careful moderator could argue either way are left out rather than guessed.

"Flagged" means, for our engine, that the word list finds at least one term (any tier: a `review` hit holds
the comment back as surely as a `reject` one, from the commenter's side; `--tiers reject` counts only
matches in the tiers named: `ambiguous` is the tier of words with an innocent sense, which only the model can
judge, so `--tiers reject,review` shows the list where a model clears every ambiguous word); for
better-profanity, that `profanity.contains_profanity` is true. The model is not consulted: this measures the
word list alone.

This is a development aid: nothing here asserts a score (tests/benchmarks/test_eval_wordlist.py checks the
kit itself). It lives beside bench_wordlist.py, which measures the same two engines' speed, and is named
eval_ rather than bench_ so that `make bench` (timings) does not run it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import pathlib
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, NamedTuple

from service.moderation.types import TIERS
from service.wordlist.language import Languages
from service.wordlist.matcher import WordList

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
CASES_DIR = pathlib.Path(__file__).resolve().parent / "eval_cases"
ENGINES = ("ours", "better-profanity")
LABELS = {"yes": True, "no": False}


class Group(NamedTuple):
    flagged: bool
    """What every case of the group expects: True, the group measures recall; False, false positives."""
    title: str


# In the order the table prints them: the groups that should be flagged, then those that should not.
GROUPS: dict[str, Group] = {
    "inflections": Group(True, "plurals, -ed/-ing/-er/-y/-head/-face of listed stems"),
    "obfuscations": Group(True, "leet, symbols, look-alike letters, repeated letters"),
    "separators": Group(True, "separators inside a word: s_h_i_t, f.u.c.k, f u c k"),
    "vowel_dropped": Group(True, "vowels left out: fck, sht, btch"),
    "phonetic": Group(True, "spelt as said: phuck, fuk, biatch"),
    "slurs": Group(True, "slurs in abusive sentences"),
    "ambiguous_abusive": Group(True, "words with an innocent sense, used abusively"),
    "benign_compounds": Group(False, "ordinary words holding a listed term across a boundary"),
    "names": Group(False, "place and person names"),
    "identity": Group(False, "neutral and positive statements about identities"),
    "ambiguous_innocent": Group(False, "words with an innocent sense, used innocently"),
    "non_english": Group(False, "everyday sentences in other European languages"),
}


class CaseError(ValueError):
    """A case file that does not parse; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class Case:
    group: str
    flagged: bool
    text: str
    note: str
    where: str
    """file:line, for messages."""


def load_cases(cases_dir: pathlib.Path = CASES_DIR) -> list[Case]:
    """Every case of every *.tsv file in `cases_dir`, in file then line order. Raises CaseError on a line
    that is not `group TAB yes|no TAB text [TAB note]`, an unknown group, a label against its group's
    direction, or a text seen before (folded for case and spacing)."""
    cases: list[Case] = []
    seen: dict[str, str] = {}
    files = sorted(pathlib.Path(cases_dir).glob("*.tsv"))
    if not files:
        raise CaseError(f"{cases_dir}: no *.tsv case files")
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path.name}:{number}"
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) not in (3, 4):
                raise CaseError(f"{where}: expected group, yes|no, text and an optional note, tab-separated")
            group, label, text = (f.strip() for f in fields[:3])
            note = fields[3].strip() if len(fields) == 4 else ""
            if group not in GROUPS:
                raise CaseError(f"{where}: unknown group {group!r} (known: {', '.join(GROUPS)})")
            if label not in LABELS:
                raise CaseError(f"{where}: expected must be yes or no, not {label!r}")
            if LABELS[label] != GROUPS[group].flagged:
                want = "yes" if GROUPS[group].flagged else "no"
                raise CaseError(f"{where}: every case of {group} expects {want}")
            if not text:
                raise CaseError(f"{where}: empty text")
            key = " ".join(text.casefold().split())
            if key in seen:
                raise CaseError(f"{where}: the same text as {seen[key]}")
            seen[key] = where
            cases.append(Case(group, LABELS[label], text, note, where))
    return cases


Judge = Callable[[str], tuple[bool, str]]
"""A text's verdict from one engine: flagged or not, and what it found (for the misses)."""


def our_engine(wordlist: WordList, tiers: Collection[str] | None = None) -> Judge:
    """The service's word list: `WordList.load(rules_dir)`, as the service builds it (runtime.load_rules),
    with the matches that count in the text's language (detected, as for a request without `lang`). A text
    is flagged where it has a match; with `tiers`, a match in one of those tiers."""
    languages = Languages()

    def judge(text: str) -> tuple[bool, str]:
        counted, _ = languages.judge(text, None, wordlist.find(text))
        matches = [m for m in counted if tiers is None or m.tier in tiers]
        found = ", ".join(f"{m.term} ({m.tier}, {m.text!r}, {'+'.join(m.evidence)})" for m in matches)
        return bool(matches), found

    return judge


def better_profanity_version() -> str:
    return importlib.metadata.version("better-profanity")


def better_profanity() -> Judge:
    """better-profanity's `contains_profanity` on its own default list (the project pins 0.7.0)."""
    from better_profanity import profanity

    profanity.load_censor_words()

    def judge(text: str) -> tuple[bool, str]:
        flagged = bool(profanity.contains_profanity(text))
        return flagged, "contains_profanity" if flagged else ""

    return judge


@dataclasses.dataclass
class Tally:
    flagged: int = 0
    total: int = 0
    misses: list[tuple[Case, str]] = dataclasses.field(default_factory=list)

    def rate(self) -> float:
        return self.flagged / self.total if self.total else 0.0


def evaluate(cases: Sequence[Case], judges: dict[str, Judge]) -> dict[str, dict[str, Tally]]:
    """Per group, per engine: how many cases it flagged, and the cases it got wrong."""
    result: dict[str, dict[str, Tally]] = {}
    for case in cases:
        per_engine = result.setdefault(case.group, {name: Tally() for name in judges})
        for name, judge in judges.items():
            flagged, found = judge(case.text)
            tally = per_engine[name]
            tally.total += 1
            tally.flagged += flagged
            if flagged != case.flagged:
                tally.misses.append((case, found))
    return result


def _ordered(result: dict[str, dict[str, Tally]]) -> Iterable[str]:
    return [g for g in GROUPS if g in result]


def _totals(result: dict[str, dict[str, Tally]], flagged: bool, engine: str) -> Tally:
    total = Tally()
    for group in _ordered(result):
        if GROUPS[group].flagged == flagged:
            tally = result[group][engine]
            total.flagged += tally.flagged
            total.total += tally.total
    return total


def _cell(tally: Tally) -> str:
    return f"{tally.rate() * 100:5.1f}% ({tally.flagged}/{tally.total})"


def table(result: dict[str, dict[str, Tally]], engines: Sequence[str]) -> str:
    """The side-by-side table: recall for the groups that should be flagged, false positives for the rest."""
    lines = []
    head = f"  {'group':20s} {'measure':8s}" + "".join(f" {e:>18s}" for e in engines) + "   holds"
    for flagged, heading in ((True, "should be flagged (recall: higher is better)"),
                             (False, "should not be flagged (false positives: lower is better)")):  # fmt: skip
        groups = [g for g in _ordered(result) if GROUPS[g].flagged == flagged]
        if not groups:
            continue
        lines += [heading, head]
        measure = "recall" if flagged else "FP rate"
        for group in groups:
            lines.append(
                f"  {group:20s} {measure:8s}"
                + "".join(f" {_cell(result[group][e]):>18s}" for e in engines)
                + f"   {GROUPS[group].title}"
            )
        lines.append(
            f"  {'all':20s} {measure:8s}"
            + "".join(f" {_cell(_totals(result, flagged, e)):>18s}" for e in engines)
        )
    return "\n".join(lines)


def misses_text(result: dict[str, dict[str, Tally]], engines: Sequence[str]) -> str:
    lines = []
    for engine in engines:
        lines.append(f"cases {engine} gets wrong:")
        for group in _ordered(result):
            misses = result[group][engine].misses
            if not misses:
                continue
            lines.append(f"  {group} ({'missed' if GROUPS[group].flagged else 'flagged'}: {len(misses)})")
            for case, found in misses:
                extra = f"   <- {found}" if found and engine == "ours" else ""
                lines.append(f"    {case.where:24s} {case.text}{extra}")
    return "\n".join(lines)


def summary(result: dict[str, dict[str, Tally]], engines: Sequence[str], version: str) -> dict[str, Any]:
    """The figures as JSON-ready data (misses included, so runs can be compared case by case)."""

    def figures(tally: Tally) -> dict[str, Any]:
        return {"flagged": tally.flagged, "cases": tally.total, "rate": round(tally.rate(), 4)}

    groups = {}
    for group in _ordered(result):
        spec = GROUPS[group]
        groups[group] = {
            "expected_flagged": spec.flagged,
            "measure": "recall" if spec.flagged else "false_positive_rate",
            "title": spec.title,
            **{
                e: {
                    **figures(result[group][e]),
                    "misses": [{"case": c.where, "text": c.text} for c, _ in result[group][e].misses],
                }
                for e in engines
            },
        }
    return {
        "wordlist_version": version,
        "better_profanity_version": better_profanity_version(),
        "engines": list(engines),
        "groups": groups,
        "totals": {
            "recall": {e: figures(_totals(result, True, e)) for e in engines},
            "false_positive_rate": {e: figures(_totals(result, False, e)) for e in engines},
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.eval_wordlist",
        description="Recall and false positives of our word list and better-profanity 0.7.0, per group.",
    )
    parser.add_argument("--show-misses", action="store_true", help="list the cases each engine gets wrong")
    parser.add_argument("--json", type=pathlib.Path, metavar="PATH", help="also write a JSON summary here")
    parser.add_argument(
        "--group", action="append", choices=list(GROUPS), help="only this group (may be repeated)"
    )
    parser.add_argument("--cases", type=pathlib.Path, default=CASES_DIR, help="folder of *.tsv case files")
    parser.add_argument("--rules", type=pathlib.Path, default=RULES, help="rules folder of our engine")
    parser.add_argument(
        "--tiers",
        metavar="TIER,...",
        help=f"count only our matches in these tiers ({', '.join(TIERS)}; e.g. reject: what is refused without "
        "a model, or reject,review: what is held back where the model clears every ambiguous word); default: a "
        "match in any tier flags",
    )
    args = parser.parse_args(argv)
    tiers = {t.strip() for t in args.tiers.split(",") if t.strip()} if args.tiers else None
    unknown = sorted((tiers or set()) - set(TIERS))
    if unknown:
        print(
            f"eval: unknown tier(s) {', '.join(unknown)}; the tiers are {', '.join(TIERS)}", file=sys.stderr
        )
        return 2

    try:
        cases = load_cases(args.cases)
    except CaseError as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    if args.group:
        cases = [c for c in cases if c.group in args.group]
    started = time.perf_counter()
    wordlist = WordList.load(args.rules)
    version = wordlist.version
    judges = {"ours": our_engine(wordlist, tiers), "better-profanity": better_profanity()}
    result = evaluate(cases, judges)
    counted = f"matches in tiers {', '.join(sorted(tiers))}" if tiers else "a match in any tier"
    print(
        f"word-list evaluation: {len(cases)} case(s) in {len(result)} group(s); ours = word list {version} "
        f"(rules: {args.rules}; flagged: {counted}), better-profanity = {better_profanity_version()} "
        f"contains_profanity"
    )
    print(table(result, ENGINES))
    if args.show_misses:
        print(misses_text(result, ENGINES))
    if args.json:
        data = {**summary(result, ENGINES, version), "tiers": sorted(tiers) if tiers else "all"}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"summary written to {args.json}")
    print(f"finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
