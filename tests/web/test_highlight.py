"""The dashboard's highlighting: pieces that rebuild the text exactly, marked where a span covers them."""

from service.web.highlight import highlight_segments


def test_highlight_segments_cover_the_text_exactly() -> None:
    text = "ab<script>cd ef"
    parts = highlight_segments(text, [(2, 10), (9, 12), (13, 99), (5, 5)])
    assert "".join(p for p, _ in parts) == text
    assert parts == [("ab", False), ("<script>cd", True), (" ", False), ("ef", True)]
    assert highlight_segments("", [(0, 3)]) == []
