import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.wordlist import normalize as nz


@pytest.mark.parametrize(
    ("text", "literal", "match"),
    [
        ("ＦＵＣＫ", "fuck", "fuck"),  # full-width, NFKC
        ("𝐟𝐮𝐜𝐤", "fuck", "fuck"),  # mathematical bold
        ("fυсk", "fuck", "fuck"),  # Greek upsilon, Cyrillic es: by shape
        ("рussy", "pussy", "pussy"),  # Cyrillic er looks like p (a transliterator says r)
        ("f\u200bu\u00adc\u200dk", "fuck", "fuck"),  # zero-width space, soft hyphen, zero-width joiner
        ("f\u202eu\ufe0fck", "fuck", "fuck"),  # bidi override, variation selector
        ("fück", "fuck", "fuck"),  # precomposed accent
        ("fu\u0301ck", "fuck", "fuck"),  # combining accent
        ("a$$h0le", "a$$h0le", "asshole"),  # leet only in the match view
        ("sh!t", "sh!t", "shIt"),  # ! may be i or l: the placeholder
        ("f.u_c-k", "f.u_c-k", "fuck"),  # separators inside a word are deleted
        ("f*ck", "f*ck", "f*ck"),
        ("f#ck", "f#ck", "f*ck"),
        ("fu|<", "fu|<", "fuk"),  # two-character leet, same length before folding: "|<" → "k."
        ("c()ck", "c()ck", "cock"),
        ("di(k", "di(k", "dick"),  # "(" is c only between letters ...
        ("(rap)", "(rap)", " rap "),  # ... at a word's edge it is a parenthesis
        ("f(x) = ()", "f(x) = ()", "fcx      "),
    ],
)
def test_folds(text: str, literal: str, match: str) -> None:
    assert nz.fold_literal(text) == literal
    assert nz.fold_match(text) == match
    assert nz.fold_match_fast(text) == match


@pytest.mark.parametrize(("text", "squeezed"), [("fuuuuck", "fuck"), ("a  b", "a b"), ("shIIt", "shIt")])
def test_squeeze(text: str, squeezed: str) -> None:
    assert nz.squeeze(text) == squeezed


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list("abI *.é")), st.integers(1, 3 * nz.LONG_RUN)), max_size=12))
def test_squeeze_cuts_long_runs_first_with_the_same_result(runs: list[tuple[str, int]]) -> None:
    # Long strings have their long runs cut before SQUEEZE_RE runs: the answer of SQUEEZE_RE alone.
    text = "".join(c * n for c, n in runs)
    assert nz.squeeze(text) == nz.SQUEEZE_RE.sub("", text)
