from hypothesis import given, settings
from hypothesis import strategies as st

from service.wordlist import normalize as nz
from service.wordlist import offsets


def test_deletion_map_points_back() -> None:
    raw = nz.tables().hot
    text = "f.u.c.k you"
    folded = text.translate(raw)
    dmap = offsets.DeletionMap(offsets.deleted_positions(folded))
    s = folded.replace(nz.DELETED, "")
    assert [text[dmap.before(i)] for i in range(len(s))] == [c for c in text if c not in "."]


@settings(max_examples=300, deadline=None)
@given(
    st.text()
    | st.text(alphabet=st.sampled_from(list("ab(|<)*.$ \u200b\ufb01\u0301é𝐮сＦ45£€“’")), max_size=30)
)
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


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aabI *.")), max_size=30))
def test_squeeze_map_matches_the_map_of_each_deleted_position(s: str) -> None:
    # One entry per run (a run of 10,000 letters is one entry), the same answers as one per deletion.
    runs = offsets.squeeze_map(s)
    positions = offsets.DeletionMap(offsets.squeezed_positions(s))
    assert [runs.before(i) for i in range(len(nz.squeeze(s)))] == [
        positions.before(i) for i in range(len(nz.squeeze(s)))
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aabI *.")), max_size=30))
def test_squeeze_origin_points_at_each_run_start(s: str) -> None:
    squeezed = nz.squeeze(s)
    origin = offsets.squeeze_origin(s)
    assert len(origin) == len(squeezed)
    for k, i in enumerate(origin):
        assert s[i] == squeezed[k]
        assert i == 0 or s[i - 1] != s[i] or s[i] not in "abI "  # the first of its run


def test_deletion_map_span_to_original() -> None:
    text = "f.u.c.k you"
    dmap = offsets.DeletionMap([i for i, c in enumerate(text) if c == "."])
    assert text.replace(".", "")[0:4] == "fuck"
    assert dmap.span_to_original(0, 4) == (0, 7)  # the separators inside the span come back with it
    assert dmap.span_to_original(5, 8) == (8, 11)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab .,'-_~:;^`\"x")), max_size=40)
    | st.text(alphabet=st.characters(max_codepoint=127), max_size=40)
)
def test_deletion_map_of_ascii_is_the_map_of_each_deleted_position(text: str) -> None:
    # The C-level build (split at the deleted bytes) gives the map built from the positions one by one.
    deleted = nz.tables().ascii_deleted
    fast = offsets.DeletionMap.of_ascii(text, deleted)
    positions = [i for i, c in enumerate(text) if ord(c) in deleted]
    assert fast.kept_before == offsets.DeletionMap(positions).kept_before
    kept = [i for i in range(len(text)) if i not in set(positions)]
    assert [fast.before(i) for i in range(len(kept))] == kept


def test_deletion_map_of_ascii_with_nothing_deleted() -> None:
    assert offsets.DeletionMap.of_ascii("f.u.c.k", b"").kept_before == []
    dmap = offsets.DeletionMap.of_ascii("f.u.c.k", b".")
    assert dmap.span_to_original(0, 4) == (0, 7)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,'-$\u200b\u00ade\u00e9\u00fc€£“’\u0301")), max_size=30))
def test_stand_ins_map_offsets_as_the_text_does(text: str) -> None:
    # The matcher maps a non-ASCII comment's spans through its ASCII stand-ins where each character has one:
    # the same answers as the map of the comment itself.
    tables = nz.tables()
    folded, view = tables.match_view(text)
    swapped = tables.swap_stand_ins(folded)
    if swapped is None:
        return
    assert len(swapped) == len(folded) and swapped.isascii()
    fast = offsets.DeletionMap.of_ascii(swapped, tables.ascii_deleted)
    sparse = offsets.SparseOffsetMap(folded, tables.match, tables.irregular_match)
    assert [fast.before(j) for j in range(len(view))] == [sparse.origin(j) for j in range(len(view))]
