"""Percents in prepayment line descriptions read as people write them, whatever their
representation, and remembering them for speed keeps no unbounded state."""

from __future__ import annotations

from builders import D

from workflows import prepayment


def test_percent_texts_drop_trailing_zeros_and_keep_five_decimals() -> None:
    assert prepayment._percent_text(D("30.00")) == "30"
    assert prepayment._percent_text(D("12.5")) == "12.5"
    assert prepayment._percent_text(D("33.333333333")) == "33.33333"
    # -0 equals 0 (and hashes alike) but reads differently: both are remembered apart.
    assert prepayment._percent_text(D("-0")) == "-0"
    assert prepayment._percent_text(D("0")) == "0"


def test_remembered_percent_texts_stay_bounded() -> None:
    for n in range(3000):  # back-computed percents are all different
        assert (
            prepayment._percent_text(D(n) / 7)
            == f"{(D(n) / 7).quantize(D('0.00001')).normalize():f}"
        )
    assert len(prepayment._PERCENT_TEXTS) <= 1024
