import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.wordlist import normalize as nz
from service.wordlist import offsets


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


def test_deletion_map_points_back() -> None:
    raw = nz.tables().hot
    text = "f.u.c.k you"
    folded = text.translate(raw)
    dmap = offsets.DeletionMap(offsets.deleted_positions(folded))
    s = folded.replace(nz.DELETED, "")
    assert [text[dmap.before(i)] for i in range(len(s))] == [c for c in text if c not in "."]


@settings(max_examples=300, deadline=None)
@given(st.text() | st.text(alphabet=st.sampled_from(list("ab(|<)*.$ \u200b\ufb01\u0301é𝐮сＦ")), max_size=30))
def test_folding_never_raises_and_offsets_cover(text: str) -> None:
    substituted = nz.substitute_multi_leet(text)
    assert len(substituted) == len(text)
    lit = nz.fold_literal(text)
    match = nz.fold_match(text)
    assert nz.fold_match_fast(text) == match
    tables = nz.tables()
    for source, table, irregular, view in (
        (text, tables.literal, tables.irregular_literal, lit),
        (substituted, tables.match, tables.irregular_match, match),
    ):
        omap = offsets.OffsetMap(source, table)
        assert len(omap.origin) == len(view)
        assert all(0 <= o < len(text) for o in omap.origin)
        assert omap.starts == sorted(omap.starts)
        sparse = offsets.SparseOffsetMap(source, table, irregular)
        assert [sparse.origin(j) for j in range(len(view))] == omap.origin
        assert [sparse.start(i) for i in range(len(text) + 1)] == omap.starts
    nz.squeeze(match)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), unique=True).map(sorted), st.integers(0, 40))
def test_deletion_map_matches_a_walk(deleted: list[int], length: int) -> None:
    kept = [i for i in range(max(length, max(deleted, default=0) + 1)) if i not in set(deleted)]
    dmap = offsets.DeletionMap(deleted)
    assert [dmap.before(i) for i in range(len(kept))] == kept
