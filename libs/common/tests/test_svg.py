"""Shared SVG helpers: integer ticks at a nice step, wrapping and cutting labels to a width."""

from __future__ import annotations

import itertools

import pytest

from renovation_common.svg import fit, integer_step, integer_ticks, text_width, wrap


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [(0, [0, 1]), (1, [0, 1]), (2, [0, 1, 2]), (5, [0, 1, 2, 3, 4, 5]), (6, [0, 2, 4, 6]), (11, [0, 5, 10, 15]),
     (47, [0, 10, 20, 30, 40, 50]), (101, [0, 50, 100, 150])],
)  # fmt: skip
def test_integer_ticks_are_distinct_increasing_and_cover_the_peak(peak, ticks):
    assert integer_ticks(peak) == ticks


def test_every_peak_gets_few_distinct_integer_ticks():
    for peak in range(0, 5000, 7):
        ticks = integer_ticks(peak)
        assert ticks[0] == 0 and ticks[-1] >= peak and len(ticks) <= 6
        assert all(b > a for a, b in itertools.pairwise(ticks))
        assert str(integer_step(peak))[0] in "125"


def test_wrap_and_fit_keep_within_the_width():
    text = "交叉施工作业面移交时序图 Cross construction work-face handover sequence chart"
    lines = wrap(text, 14, 200)
    assert len(lines) > 1 and all(text_width(line, 14) <= 200 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    cut = fit("一二三四五六七八九十", 10, 45)
    assert cut.endswith("…") and text_width(cut, 10) <= 45
    assert fit("短", 10, 45) == "短"
