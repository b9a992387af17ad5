"""ICA study pieces: the Amari distance and matched correlation, and a smoke run."""

from __future__ import annotations

import numpy as np

from sslctl.studies.ica import amari_distance, matched_correlation, mixtures, run_ica_study


def test_amari_distance_is_zero_for_scaled_permutations_and_positive_otherwise() -> None:
    """A scaled permutation separates perfectly (0); a random matrix does not (> 0.2)."""
    p = np.diag([2.0, -1.0, 0.5])[[2, 0, 1]]
    assert amari_distance(p) == 0.0
    assert amari_distance(np.random.default_rng(0).normal(size=(6, 6))) > 0.2


def test_matched_correlation_of_permuted_sources_is_one() -> None:
    """Recovered sources that are a permutation (with signs) of the truth match at 1."""
    s, _, _ = mixtures(4, 500, 0)
    assert abs(matched_correlation(s, -s[:, [3, 1, 0, 2]]) - 1) < 1e-12


def test_study_smoke_reports_both_methods_on_identical_data() -> None:
    """One small run: a VCReg row and a FastICA row per (sources, seed), in [0, 1]."""
    rows = run_ica_study(sources=(3,), seeds=(0,), samples=300, width=32, steps=30)
    assert [r.method for r in rows] == ["vcreg", "fastica"]
    assert all(0 <= r.amari <= 1 and 0 <= r.correlation <= 1 for r in rows)
    assert rows[1].amari < 0.1, "FastICA separates 3 Laplace sources"


def test_single_view_vcreg_equals_the_two_view_loss() -> None:
    """The study's one-pass VCReg is build_loss("vcreg") with the same tensor twice."""
    import torch

    from sslctl.methods import build_loss
    from sslctl.studies.ica import vcreg_single_view

    z = torch.randn(300, 40, generator=torch.Generator().manual_seed(0))
    full = build_loss("vcreg", std_coeff=25.0, cov_coeff=1.0)(z, z)["loss"]
    assert torch.allclose(vcreg_single_view(z), full, rtol=1e-6)
