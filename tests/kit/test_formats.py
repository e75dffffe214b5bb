"""Numbers written for people: dollars, durations, percentages, counts, ✓ and ✗."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.kit.formats import MISSING, check, count, duration_ms, is_missing, percent, usd


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1234.5, "$1,234.50"),
        (1234567.891, "$1,234,567.89"),
        (0, "$0.00"),
        (0.5, "$0.50"),
        (1.48, "$1.48"),
        (-12.5, "-$12.50"),
        (np.float64(587.5), "$587.50"),
    ],
)
def test_usd_writes_dollars_with_cents_and_thousands_separators(amount, text):
    """Amounts from a cent up have two decimals and thousands separators."""
    assert usd(amount) == text


@pytest.mark.parametrize(
    ("amount", "text"), [(0.00123, "$0.0012"), (0.000456, "$0.00046"), (0.0049, "$0.0049")]
)
def test_usd_keeps_two_significant_digits_under_a_cent(amount, text):
    """A per-request price under a cent is not rounded to $0.00."""
    assert usd(amount) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (850, "850 ms"),
        (587.5, "588 ms"),
        (999.4, "999 ms"),
        (4.25, "4.2 ms"),
        (0.42, "0.42 ms"),
        (0, "0 ms"),
    ],
)
def test_duration_ms_is_in_milliseconds_under_a_second(ms, text):
    """Under a second: whole ms from 10 ms, one decimal from 1 ms, two digits below."""
    assert duration_ms(ms) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (999.6, "1.00 s"),
        (1250, "1.25 s"),
        (12_500, "12.5 s"),
        (4_368_228, "4,368 s"),
    ],
)
def test_duration_ms_is_in_seconds_from_a_second(ms, text):
    """From a second: three significant digits, then whole seconds with separators."""
    assert duration_ms(ms) == text


def test_percent_writes_a_share_with_one_decimal():
    """0.985 is 98.5%; the number of decimals can be chosen."""
    assert percent(0.985) == "98.5%"
    assert percent(1.0) == "100.0%"
    assert percent(0.39271, digits=2) == "39.27%"


def test_count_rounds_to_whole_numbers_with_thousands_separators():
    """60000 and 60000.4 are both "60,000"."""
    assert count(60_000) == "60,000"
    assert count(60_000.4) == "60,000"
    assert count(np.int64(7)) == "7"


def test_check_marks_true_and_false():
    """Feasibility reads ✓ or ✗, numpy bools included."""
    assert check(True) == "✓"
    assert check(np.bool_(False)) == "✗"


@pytest.mark.parametrize("value", [None, float("nan"), np.nan, pd.NA])
def test_missing_values_read_as_a_dash_or_the_word_given(value):
    """No figure is an en dash by default, or the word the caller names."""
    assert is_missing(value)
    for format_ in (usd, duration_ms, percent, count, check):
        assert format_(value) == MISSING
        assert format_(value, missing="unknown") == "unknown"


def test_text_and_zero_are_not_missing():
    """Zero and text are figures, not gaps."""
    assert not is_missing(0)
    assert not is_missing("overloaded")
