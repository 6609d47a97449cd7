"""The evaluation kit itself (tests/benchmarks/eval_wordlist.py): its case files parse and hold what they
should, and the runner reports both engines. No engine's score is asserted: the kit is a development aid."""

from __future__ import annotations

import collections
import json
import pathlib
import shutil
import subprocess

import pytest

from service.wordlist.matcher import WordList
from tests.benchmarks import eval_wordlist as kit

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cases() -> list[kit.Case]:
    return kit.load_cases()


def test_the_shipped_case_files_parse_with_known_groups_and_no_duplicates(cases: list[kit.Case]) -> None:
    # load_cases refuses unknown groups, labels against the group's direction and repeated texts.
    assert cases
    assert {c.group for c in cases} == set(kit.GROUPS)
    for case in cases:
        assert case.flagged == kit.GROUPS[case.group].flagged, case.where
    folded = [" ".join(c.text.casefold().split()) for c in cases]
    assert len(folded) == len(set(folded))


def test_every_group_has_enough_cases_to_give_a_rate(cases: list[kit.Case]) -> None:
    sizes = collections.Counter(c.group for c in cases)
    assert all(25 <= n <= 60 for n in sizes.values()), sizes


def test_groups_measure_both_directions() -> None:
    assert {g.flagged for g in kit.GROUPS.values()} == {True, False}


def _write(folder: pathlib.Path, name: str, *lines: str) -> pathlib.Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("inflections\tyes", "tab-separated"),
        ("inflections\tyes\ttext\tnote\textra", "tab-separated"),
        ("swearing\tyes\tSome text.", "unknown group 'swearing'"),
        ("inflections\tmaybe\tSome text.", "yes or no"),
        ("names\tyes\tDick Cheney spoke.", "every case of names expects no"),
        ("slurs\tno\tSome text.", "every case of slurs expects yes"),
        ("names\tno\t  ", "empty text"),
    ],
)
def test_a_bad_line_is_refused_naming_its_file_and_line(
    tmp_path: pathlib.Path, line: str, message: str
) -> None:
    folder = _write(tmp_path / "cases", "a.tsv", "# a comment", "", "names\tno\tFine text.", line)
    with pytest.raises(kit.CaseError, match=message) as err:
        kit.load_cases(folder)
    assert str(err.value).startswith("a.tsv:4:")


def test_a_repeated_text_is_refused_across_files_whatever_its_case_and_spacing(
    tmp_path: pathlib.Path,
) -> None:
    folder = _write(tmp_path / "cases", "a.tsv", "names\tno\tWe moved to  Lightwater.")
    _write(folder, "b.tsv", "benign_compounds\tno\twe moved to lightwater.")
    with pytest.raises(kit.CaseError, match=r"b.tsv:1: the same text as a.tsv:1"):
        kit.load_cases(folder)


def test_a_folder_without_case_files_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(kit.CaseError, match=r"no \*\.tsv case files"):
        kit.load_cases(tmp_path)


def test_the_runner_reports_both_engines_per_group_with_totals_misses_and_json(
    cases: list[kit.Case], tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A small subset of the shipped cases: the first three of two groups, one of each direction.
    chosen = [c for g in ("inflections", "names") for c in [c for c in cases if c.group == g][:3]]
    folder = _write(
        tmp_path / "cases",
        "subset.tsv",
        *(f"{c.group}\t{'yes' if c.flagged else 'no'}\t{c.text}" for c in chosen),
    )
    out = tmp_path / "summary.json"

    assert kit.main(["--cases", str(folder), "--json", str(out), "--show-misses"]) == 0

    printed = capsys.readouterr().out
    assert "6 case(s) in 2 group(s)" in printed
    for engine in kit.ENGINES:
        assert engine in printed
        assert f"cases {engine} gets wrong:" in printed
    table = printed.split("cases ours gets wrong:")[0]
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith("  ")}
    assert "recall" in rows["inflections"] and "FP rate" in rows["names"]
    assert rows["inflections"].count("/3)") == 2 and rows["names"].count("/3)") == 2

    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["engines"] == list(kit.ENGINES)
    assert summary["better_profanity_version"] == "0.7.0"
    assert summary["wordlist_version"]
    assert summary["tiers"] == "all"
    assert set(summary["groups"]) == {"inflections", "names"}
    for group, expected in (("inflections", True), ("names", False)):
        figures = summary["groups"][group]
        assert figures["expected_flagged"] is expected
        for engine in kit.ENGINES:
            assert figures[engine]["cases"] == 3
            assert 0 <= figures[engine]["flagged"] <= 3
            assert figures[engine]["rate"] == round(figures[engine]["flagged"] / 3, 4)
            # A miss of a recall group is a case left unflagged, of a false-positive group one flagged.
            wrong = figures[engine]["flagged"] if not expected else 3 - figures[engine]["flagged"]
            assert len(figures[engine]["misses"]) == wrong
    for measure in ("recall", "false_positive_rate"):
        for engine in kit.ENGINES:
            assert summary["totals"][measure][engine]["cases"] == 3


def test_a_group_and_the_tiers_can_be_chosen(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(
        tmp_path / "cases", "a.tsv", "names\tno\tScunthorpe won at home.", "slurs\tyes\tNo faggots in my pub."
    )
    assert kit.main(["--cases", str(folder), "--group", "names", "--tiers", "review, reject"]) == 0
    printed = capsys.readouterr().out
    assert "1 case(s) in 1 group(s)" in printed
    assert "flagged: matches in tiers reject, review" in printed
    assert "slurs" not in printed


def test_the_tiers_include_ambiguous_and_an_unknown_tier_exits_2(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "cases", "a.tsv", "ambiguous_innocent\tno\tA cock crowed at dawn.")
    assert kit.main(["--cases", str(folder), "--tiers", "ambiguous", "--show-misses"]) == 0
    printed = capsys.readouterr().out
    assert "flagged: matches in tiers ambiguous" in printed and "cock (ambiguous" in printed
    assert kit.main(["--cases", str(folder), "--tiers", "reject,review"]) == 0
    assert "0.0% (0/1)" in capsys.readouterr().out
    assert kit.main(["--cases", str(folder), "--tiers", "reject,maybe"]) == 2
    assert "unknown tier(s) maybe; the tiers are reject, review, ambiguous" in capsys.readouterr().err


def test_a_broken_case_file_exits_2_naming_the_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "cases", "a.tsv", "nonsense")
    assert kit.main(["--cases", str(folder)]) == 2
    assert "a.tsv:1:" in capsys.readouterr().err


def test_our_engine_flags_what_the_word_list_finds_in_the_tiers_asked_for(cases: list[kit.Case]) -> None:
    wordlist = WordList.load(kit.RULES)
    every_tier = kit.our_engine(wordlist)
    no_tier = kit.our_engine(wordlist, tiers={"no-such-tier"})
    for case in cases[:40]:
        matches = wordlist.find(case.text)
        flagged, found = every_tier(case.text)
        assert flagged == bool(matches)
        assert all(m.term in found and m.tier in found for m in matches)
        assert no_tier(case.text) == (False, "")
        tiers = {m.tier for m in matches}
        assert kit.our_engine(wordlist, tiers=tiers)(case.text)[0] == bool(matches)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_eval_runs_the_kit_in_the_projects_virtualenv() -> None:
    dry = subprocess.run(
        ["make", "-n", "eval", "EVAL_ARGS=--show-misses"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ".venv/bin/python -m tests.benchmarks.eval_wordlist --show-misses" in dry.stdout
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "make eval" in listed.stdout
