"""The values the stores trade in: log positions (the one parser of a `before` cursor) and counter names."""

from __future__ import annotations

from typing import Any

import pytest

from service.store.base import MAX_ID_PART, CounterName, LogCursor, log_bounds


@pytest.mark.parametrize(
    ("text", "cursor"),
    [
        ("1717000000000-0", LogCursor(1_717_000_000_000, 0)),
        ("0-0", LogCursor(0, 0)),
        ("5-12", LogCursor(5, 12)),
        (f"{MAX_ID_PART}-{MAX_ID_PART}", LogCursor(MAX_ID_PART, MAX_ID_PART)),
        # A bare millisecond is the last position in it, as Redis reads an incomplete id as an upper bound.
        ("1717000000000", LogCursor(1_717_000_000_000, MAX_ID_PART)),
    ],
)
def test_a_cursor_parses_from_its_text(text: str, cursor: LogCursor) -> None:
    assert LogCursor.parse(text) == cursor


def test_a_cursor_formats_as_redis_numbers_the_entry() -> None:
    assert str(LogCursor(1_717_000_000_000, 3)) == "1717000000000-3"
    assert LogCursor.parse(str(LogCursor(7, 9))) == LogCursor(7, 9)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-an-id",
        "-1-0",
        "1-",
        "-0",
        "1-0-0",
        " 1-0",
        "1-0\n",  # `$` in a regex would let this through; Redis would not
        "+1-0",
        "(1-0",
        "+",
        "-",
        "1.5-0",
        "\u0661\u0662\u0663-0",  # Arabic-Indic digits: int() reads them, Redis refuses them
        "\u00b2-0",  # a superscript two: str.isdigit() says yes, int() says no
        f"{MAX_ID_PART + 1}-0",
        f"0-{MAX_ID_PART + 1}",
        "9" * 5000,
        None,
        17,
    ],
)
def test_anything_else_is_a_value_error(text: Any) -> None:
    with pytest.raises(ValueError):
        LogCursor.parse(text)


@pytest.mark.parametrize(("ms", "seq"), [(-1, 0), (0, -1), (MAX_ID_PART + 1, 0), (True, 0), (1.0, 0)])
def test_a_cursor_out_of_range_cannot_be_built(ms: Any, seq: Any) -> None:
    with pytest.raises(ValueError):
        LogCursor(ms, seq)


def test_cursors_order_oldest_first() -> None:
    assert LogCursor(1, 5) < LogCursor(2, 0) < LogCursor(2, 1)
    assert LogCursor(2, 0).previous() == LogCursor(1, MAX_ID_PART)
    assert LogCursor(2, 1).previous() == LogCursor(2, 0)
    assert LogCursor(0, 0).previous() is None


def test_log_bounds_combine_the_cursor_and_the_times() -> None:
    everything = (LogCursor(0, 0), LogCursor(MAX_ID_PART, MAX_ID_PART))
    assert log_bounds(None, None, None) == everything
    assert log_bounds(LogCursor(10, 0), None, None) == (LogCursor(0, 0), LogCursor(9, MAX_ID_PART))
    assert log_bounds(LogCursor(10, 0), None, 5) == (LogCursor(0, 0), LogCursor(5, MAX_ID_PART))
    assert log_bounds(LogCursor(3, 2), None, 5) == (LogCursor(0, 0), LogCursor(3, 1))
    assert log_bounds(None, 4, 6) == (LogCursor(4, 0), LogCursor(6, MAX_ID_PART))
    assert log_bounds(None, -100, None) == everything
    assert log_bounds(None, 7, 6) is None
    assert log_bounds(None, None, -1) is None
    assert log_bounds(None, MAX_ID_PART + 1, None) is None
    assert log_bounds(LogCursor(0, 0), None, None) is None
    assert log_bounds(None, None, 10**30) == everything


@pytest.mark.parametrize(
    ("period", "dimension", "value"),
    [("d", "verdict", "x"), ("m", "", "x"), ("m", "a:b", "x"), ("m", "verdict", "two words"), ("h", "v", "")],
)
def test_a_counter_name_that_could_not_be_a_key_is_refused(period: Any, dimension: str, value: str) -> None:
    with pytest.raises(ValueError, match="counter"):
        CounterName(period, 1, dimension, value)


def test_counter_names_are_values() -> None:
    assert CounterName("m", 1, "verdict", "reject") == CounterName("m", 1, "verdict", "reject")
    assert len({CounterName("m", 1, "verdict", "reject"), CounterName("h", 1, "verdict", "reject")}) == 2
