"""``report --ci`` and ``--compare`` on the shared store (values in store.py), against
hand-computed intervals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sslctl.errors import SslctlError
from sslctl.report.main import ReportOptions, make_report

T975_DF1 = 12.706204736174707  # t quantile 0.975 with 1 degree of freedom


def report(store: tuple[Path, str], **options: object) -> dict:
    opts = ReportOptions(experiment="quickstart", format="json", **options)
    return json.loads(make_report(opts, store[1]).text)


def test_ci_gives_t_intervals_and_marks_ties(store: tuple[Path, str]) -> None:
    """vicreg/1024 = [95, 97]: mean 96, s = sqrt 2, half width t * s / sqrt 2 = 12.706;
    barlow/256 = [88, 88] has a zero-width interval inside the leader's: a tie."""
    data = report(store, metrics=["linear/top1"], ci="t")
    lead, *others = data["runs"]
    assert lead["key"] == {"method.name": "vicreg", "projector.width": "1024"}
    cell = lead["values"]["linear/top1"]
    assert cell["low"] == pytest.approx(96 - T975_DF1) and cell["high"] == pytest.approx(
        96 + T975_DF1
    )
    flat = next(
        r
        for r in others
        if r["key"]["method.name"] == "barlow" and r["key"]["projector.width"] == "256"
    )
    assert flat["values"]["linear/top1"]["low"] == flat["values"]["linear/top1"]["high"] == 88.0
    assert all(r["values"]["linear/top1"]["tie"] for r in others)
    assert any("95% interval" in n for n in data["notes"])


def test_ci_in_the_terminal_table(store: tuple[Path, str]) -> None:
    opts = ReportOptions(
        experiment="quickstart", metrics=["linear/top1"], ci="t", format="markdown"
    )
    text = make_report(opts, store[1]).text
    assert "96.00 ± 1.41 [83.29, 108.71]" in text and "(tie)" in text


def test_bootstrap_intervals_stay_within_the_observed_values(store: tuple[Path, str]) -> None:
    data = report(store, metrics=["linear/top1"], ci="bootstrap")
    cell = data["runs"][0]["values"]["linear/top1"]
    assert 95.0 <= cell["low"] <= 96.0 <= cell["high"] <= 97.0


def test_compare_is_paired_by_seed(store: tuple[Path, str]) -> None:
    """Per seed (mean over the two widths): vicreg 92.5, 94.5; barlow 90.5, 91.5.
    Differences 2 and 3: mean 2.5, s = 0.7071, half width 12.706 * 0.7071 / sqrt 2 = 6.353;
    t = 5 with 1 df: p = 1 - 2 atan(5) / pi = 0.12567."""
    data = report(store, metrics=["linear/top1"], compare=("method.name=barlow", "method=vicreg"))
    (line,) = data["runs"]
    key = line["key"]
    assert key["metric"] == "linear/top1" and key["seeds"] == "2"
    assert key["method.name=barlow"] == "91" and key["method=vicreg"] == "93.5"
    assert key["difference (B - A) [95% CI]"] == "+2.5 [-3.853, +8.853]"
    assert float(key["p"]) == pytest.approx(1 - 2 * math.atan(5) / math.pi, abs=1e-3)


def test_compare_errors_name_the_option(store: tuple[Path, str]) -> None:
    with pytest.raises(SslctlError, match="--compare: got 'vicreg'"):
        report(store, compare=("vicreg", "method=barlow"))
    with pytest.raises(SslctlError, match="no seed has runs with both"):
        report(store, compare=("method=vicreg", "method=nope"))
