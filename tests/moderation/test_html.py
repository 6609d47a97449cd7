"""service/moderation/html.py: the text an HTML comment shows, and spans of it mapped back into the HTML."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.moderation.html import html_text, plain_text, utf16_offset


def spans_of(source: str) -> list[tuple[str, str]]:
    """Each character of the text with the HTML it came from."""
    read = html_text(source)
    return [(ch, source[slice(*read.html_span(i, i + 1))]) for i, ch in enumerate(read.text)]


@pytest.mark.parametrize(
    "source,text",
    [
        ("plain words", "plain words"),
        ("f<b>o</b>o", "foo"),
        ("good<br>bye<br/>now", "good\nbye\nnow"),
        ("<p>one</p><p>two</p>", "\none\n\ntwo\n"),
        ("<DIV>x</DIV>", "\nx\n"),
        ("Tom &amp; Jerry&#39;s &lt;3 &nbsp;", "Tom & Jerry's <3 \xa0"),
        ("&#x1F600;&#128512;", "😀😀"),
        ("&ampx &notit; &bogus; & &#; &#x;", "&x ¬it; &bogus; & &#; &#x;"),
        ("&#0; &#xD800; &#x110000; &#128;", "\ufffd \ufffd \ufffd €"),
        ("&#" + "9" * 5000 + ";x", "\ufffdx"),
        ("&#000000000065;", "A"),
        ("<a href=\"https://x.example/?a=1&amp;b=2\" title='a > b'>link</a>", "link"),
        ("x<script>alert('<b>')</script>y<style>p{}</style>z", "xyz"),
        ("a <!-- a comment --> b <!doctype html> c <?pi?> d", "a  b  c  d"),
        ("a < b and c<3 and </> d", "a < b and c<3 and </> d"),
        ('text <b class="open', "text "),
        ("text <!-- never closed", "text "),
        ("<b>x</b", "x"),
    ],
)
def test_the_text_is_what_a_browser_shows(source, text):
    assert html_text(source).text == text


def test_each_character_maps_to_what_it_came_from():
    assert spans_of("a&amp;<b>b</b><br>c") == [
        ("a", "a"),
        ("&", "&amp;"),
        ("b", "b"),
        ("\n", "<br>"),
        ("c", "c"),
    ]
    # A named reference read by its longest known prefix maps as a whole.
    assert spans_of("&ampx") == [("&", "&ampx"), ("x", "&ampx")]


def test_a_span_maps_to_the_html_between_its_ends():
    source = "<p>you f<i>oo</i>l &amp; co</p>"
    read = html_text(source)
    start = read.text.index("fool")
    assert source[slice(*read.html_span(start, start + 4))] == "f<i>oo</i>l"
    amp = read.text.index("&")
    assert source[slice(*read.html_span(amp - 1, amp + 1))] == " &amp;"
    with pytest.raises(ValueError):
        read.html_span(3, 3)
    with pytest.raises(ValueError):
        read.html_span(0, len(read.text) + 1)


def test_plain_text_is_itself():
    read = plain_text("a <b> &amp;")
    assert read.text == "a <b> &amp;" and read.html_span(2, 5) == (2, 5)


def test_utf16_offsets_count_astral_characters_twice():
    assert utf16_offset("abc", 2) == 2
    assert utf16_offset("😀é😀x", 3) == 5
    assert utf16_offset("😀é😀x", 4) == 6


# Characters that make markup and references, and a few others, so that hypothesis builds HTML-ish text.
html_ish = st.lists(
    st.sampled_from([*"<>/&#;=\"' abxAB019pbr!-", "amp", "lt", "br", "p", "😀", "é"]), max_size=40
).map("".join)


@given(source=html_ish)
@settings(max_examples=400, deadline=None, database=None)
def test_spans_stay_inside_the_html_in_order(source):
    read = html_text(source)
    previous_end = 0
    for i in range(len(read.text)):
        start, end = read.html_span(i, i + 1)
        assert 0 <= start < end <= len(source)
        assert start >= previous_end or read.html_span(i - 1, i) == (start, end)
        previous_end = end
    if read.text:
        whole = read.html_span(0, len(read.text))
        assert whole[0] <= whole[1]


@given(source=html_ish.filter(lambda s: "<" not in s))
@settings(max_examples=300, deadline=None, database=None)
def test_without_markup_the_text_is_what_html_unescape_makes_of_it(source):
    assert html_text(source).text == html.unescape(source)
