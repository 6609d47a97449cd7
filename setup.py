"""The one part of the build pyproject.toml cannot say: the word list's optional C prefilter.

`optional=True`: where no C compiler is at hand the install goes on without it, and the word list runs its
pure-Python prefilter instead (same answers, slower: see service/wordlist/scan.py and the README)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "service.wordlist._scan",
            ["service/wordlist/_scan.c"],
            optional=True,
        )
    ]
)
