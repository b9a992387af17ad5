"""Spectrum diagnostics: RankMe, collapse fraction, the plot."""

from __future__ import annotations

from pathlib import Path

import torch

from sslctl.evals.spectrum import eigenvalues, plot_spectra, rankme, spectrum_stats


def test_rankme_of_isotropic_and_low_rank_data() -> None:
    """Isotropic 32-d data has RankMe close to 32; rank-4 data close to 4."""
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(5000, 32, generator=g)
    low = torch.randn(5000, 4, generator=g) @ torch.randn(4, 32, generator=g)
    assert 29 < rankme(iso) <= 32
    assert 3 < rankme(low) < 4.5


def test_collapsed_fraction_and_condition() -> None:
    """Half the dimensions constant: collapsed fraction 0.5; spectrum sorted descending."""
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.randn(1000, 8, generator=g), torch.zeros(1000, 8)], 1)
    stats = spectrum_stats(z)
    assert stats["collapsed"] == 0.5 and 1 <= stats["condition"] < 2
    lam = eigenvalues(z)
    assert torch.all(lam[:-1] >= lam[1:])


def test_spectrum_plot_is_written(tmp_path: Path) -> None:
    """The per-epoch spectrum plot is a non-empty PNG."""
    path = plot_spectra({1: [3.0, 2.0, 1.0], 5: [1.0, 1.0, 0.9]}, tmp_path / "s.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 1000
