"""What language handling (issue 11, item 6) costs: the detector's load time and memory, its CPU time per
comment at MODERATION_LANG_DETECT_MAX_CHARS, and `Languages.judge` on flagged comments of three kinds.

    PYTHONPATH=. python -m tests.benchmarks.bench_language
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from service.config import DEFAULT_LANGUAGE_CANDIDATES
from service.moderation.types import WordMatch
from service.wordlist.language import LanguageOptions, Languages, _detector
from tests.benchmarks.bench_wordlist import RULES

ROUNDS = 300

GERMAN = (
    "Die Regierung hat heute neue Maßnahmen angekündigt, die den Verkehr in der Innenstadt erheblich reduzieren "
    "sollen. Viele Anwohner begrüßen das, andere befürchten höhere Kosten für Pendler, das war nicht erfolgreich."
)
ENGLISH = (
    "People should really think before they post this sh1t about other people, because the council already "
    "said the new road would open in June and nobody there wanted the delays that came with the works."
)
WRITTEN_OUT = "Honestly this is fucking ridiculous and everyone involved knows it, the whole thing is a mess."


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_us(fn: Callable[..., object], *args: object) -> float:
    fn(*args)
    t0 = time.process_time()
    for _ in range(ROUNDS):
        fn(*args)
    return (time.process_time() - t0) / ROUNDS * 1e6


def main() -> int:
    from service.wordlist.matcher import WordList

    wordlist = WordList.load(RULES)
    before = _rss_mib()
    t0 = time.perf_counter()
    languages = Languages()
    languages.warm()
    print(
        f"detector and wordfreq lists: loaded in {time.perf_counter() - t0:.2f} s, RSS +{_rss_mib() - before:.0f} MiB"
    )
    options = LanguageOptions()
    detector = _detector(DEFAULT_LANGUAGE_CANDIDATES)
    for n in (options.max_chars, 300):
        print(f"py3langid classify, {n} chars: {_cpu_us(detector.classify, GERMAN[:n]):.1f} us CPU")
    for name, text in (
        ("German, sub-word match", GERMAN),
        ("English, disguised", ENGLISH),
        ("written out", WRITTEN_OUT),
    ):
        matches: list[WordMatch] = wordlist.find(text)
        kept, language = languages.judge(text, None, matches)
        find_us = _cpu_us(wordlist.find, text)
        judge_us = _cpu_us(languages.judge, text, None, matches)
        print(
            f"{name:24} {len(matches)} match(es) -> {len(kept)} kept, {language.code if language else None}/"
            f"{language.source if language else None}: find {find_us:.1f} us, judge {judge_us:.1f} us CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
