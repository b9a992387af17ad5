"""Each statistic against an example computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sslctl.claims.stats import (
    Interval,
    bootstrap_interval,
    combine,
    log_ratio_interval,
    paired_difference,
    spearman,
    spearman_bootstrap,
    t_interval,
    verdict,
)

T975_DF2 = 4.302652729911275  # t quantile 0.975 with 2 degrees of freedom (tables)


def test_t_interval_of_one_two_three() -> None:
    # mean 2, s = 1, half width = 4.3027 * 1 / sqrt(3) = 2.48414
    ci = t_interval([1.0, 2.0, 3.0])
    half = T975_DF2 / math.sqrt(3)
    assert (ci.estimate, ci.n) == (2.0, 3)
    assert ci.low == pytest.approx(2 - half) and ci.high == pytest.approx(2 + half)
    assert ci.high == pytest.approx(4.48414, abs=1e-5)


def test_t_interval_needs_two_values() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        t_interval([1.0])


def test_paired_difference_interval_and_p_value() -> None:
    # differences 2, 3, 4: mean 3, s = 1 -> 3 ± 2.48414; t = 3 / (1 / sqrt 3) = 5.19615;
    # Student t with 2 df: F(t) = 1/2 + t / (2 sqrt(2 + t^2)) = 1/2 + 5.196152 / 10.770330
    # = 0.9824506, so the two-sided p = 2 (1 - F) = 0.0350987
    ci = paired_difference([3.0, 5.0, 7.0], [1.0, 2.0, 3.0])
    assert ci.estimate == pytest.approx(3.0)
    assert ci.low == pytest.approx(0.51586, abs=1e-5)
    assert ci.high == pytest.approx(5.48414, abs=1e-5)
    assert ci.p == pytest.approx(0.0350987, abs=1e-6)
    assert verdict(ci, "increase") == "supported"


def test_paired_difference_that_must_be_inconclusive() -> None:
    # differences 1, -1, 2: mean 2/3, s = sqrt(42/18) = 1.52753, half width
    # 4.30265 * 1.52753 / sqrt 3 = 3.79460 -> [-3.128, 4.461] contains 0
    ci = paired_difference([2.0, 0.0, 3.0], [1.0, 1.0, 1.0])
    assert ci.low == pytest.approx(2 / 3 - 3.79460, abs=1e-4)
    assert ci.high == pytest.approx(2 / 3 + 3.79460, abs=1e-4)
    assert verdict(ci, "increase") == "inconclusive"
    assert verdict(ci, "decrease") == "inconclusive"


def test_paired_difference_that_must_be_contradicted() -> None:
    # differences -2, -3, -4: -3 ± 2.48414 = [-5.484, -0.516], below 0 although an
    # increase was claimed
    ci = paired_difference([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
    assert ci.high == pytest.approx(-0.51586, abs=1e-5)
    assert verdict(ci, "increase") == "contradicted"
    assert verdict(ci, "decrease") == "supported"


def test_paired_difference_with_identical_differences_is_exact() -> None:
    ci = paired_difference([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert (ci.estimate, ci.low, ci.high, ci.p) == (1.0, 1.0, 1.0, 0.0)


def test_paired_difference_needs_pairs() -> None:
    with pytest.raises(ValueError, match="3 treatment values vs 2 control"):
        paired_difference([1.0, 2.0, 3.0], [1.0, 2.0])


def test_bootstrap_of_two_points() -> None:
    # resampling {0, 1} twice: the mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4,
    # so the 2.5% and 97.5% percentiles are 0 and 1
    ci = bootstrap_interval([0.0, 1.0], resamples=4000, seed=3)
    assert (ci.estimate, ci.low, ci.high) == (0.5, 0.0, 1.0)


def test_bootstrap_is_seeded() -> None:
    values = [0.1, 0.5, 0.2, 0.9, 0.4, 0.3]
    one, two = bootstrap_interval(values, seed=7), bootstrap_interval(values, seed=7)
    assert one == two
    assert one.low < one.estimate < one.high


def test_spearman_by_hand() -> None:
    # ranks of y: 1, 3, 2, 4; d = 0, 1, 1, 0; rho = 1 - 6 * 2 / (4 * (16 - 1)) = 0.8
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_bootstrap_within_points_keeps_the_design() -> None:
    # y is constant within each width: every stratified resample is the data itself,
    # so rho = 1 (ties averaged on both sides) and the interval is [1, 1]
    widths = [64, 64, 256, 256, 1024, 1024]
    ci = spearman_bootstrap(widths, [10, 10, 20, 20, 30, 30], groups=widths)
    assert (ci.estimate, ci.low, ci.high, ci.n) == (1.0, 1.0, 1.0, 6)
    assert verdict(ci, "increase") == "supported"
    down = spearman_bootstrap(widths, [30, 30, 20, 20, 10, 10], groups=widths)
    assert verdict(down, "increase") == "contradicted"


def test_spearman_bootstrap_without_trend_is_inconclusive() -> None:
    # every width has the same three values: no trend, rho = 0 exactly, and the
    # stratified resamples scatter on both sides of 0
    x = np.repeat([1.0, 2.0, 3.0, 4.0], 3)
    ci = spearman_bootstrap(x, [0.0, 1.0, 2.0] * 4, groups=x, seed=1)
    assert ci.estimate == pytest.approx(0.0)
    assert ci.low < 0 < ci.high
    assert verdict(ci, "decrease") == "inconclusive"


def test_log_ratio_by_hand() -> None:
    # ratios 2, 2, 2: geometric mean 2, no spread
    ci = log_ratio_interval([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])
    assert (ci.estimate, ci.low, ci.high) == pytest.approx((2.0, 2.0, 2.0))
    assert verdict(ci, "decrease", null=3.0) == "supported"
    assert verdict(ci, "decrease", null=1.5) == "contradicted"


def test_verdict_rule() -> None:
    assert verdict(Interval(0.5, 0.1, 0.9, 3), "increase") == "supported"
    assert verdict(Interval(0.5, -0.1, 0.9, 3), "increase") == "inconclusive"
    assert verdict(Interval(-0.5, -0.9, -0.1, 3), "increase") == "contradicted"
    assert verdict(Interval(0.0, float("nan"), float("nan"), 3), "decrease") == "inconclusive"
    with pytest.raises(ValueError, match="direction"):
        verdict(Interval(0, 0, 0, 1), "up")  # type: ignore[arg-type]


def test_combine() -> None:
    assert combine(["supported", "supported"]) == "supported"
    assert combine(["supported", "inconclusive"]) == "inconclusive"
    assert combine(["supported", "contradicted"]) == "contradicted"
    assert combine([]) == "inconclusive"


def test_intervals_overlap() -> None:
    assert Interval(1, 0, 2, 3).overlaps(Interval(3, 1.5, 4, 3))
    assert not Interval(1, 0, 1, 3).overlaps(Interval(3, 2, 4, 3))
