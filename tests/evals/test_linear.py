"""Linear probe on cached features and OOD aggregation."""

from __future__ import annotations

import torch

from sslctl.evals.linear import train_probe
from sslctl.evals.ood import headline, ood_metrics
from sslctl.recipe.schema import LinearEvalConfig


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]])
    return centres[labels] * 100 + torch.randn(n, 2, generator=g) * 100, labels


def test_probe_separates_linearly_separable_data_whatever_the_scale() -> None:
    """Standardisation makes the probe work on badly scaled features (x100 here)."""
    x, y = blobs(600, 0)
    probe = train_probe(x, y, 3, LinearEvalConfig(epochs=20, lr=0.05), seed=0)
    xt, yt = blobs(300, 1)
    assert probe.top1(xt, yt) > 97


def test_probe_is_deterministic_for_a_seed() -> None:
    """Same features and seed -> identical head."""
    x, y = blobs(200, 0)
    a = train_probe(x, y, 3, LinearEvalConfig(epochs=3), seed=5)
    b = train_probe(x, y, 3, LinearEvalConfig(epochs=3), seed=5)
    assert torch.equal(a.head.weight, b.head.weight)


def test_ood_metrics_aggregate_per_corruption_and_suite() -> None:
    """Corruption suites are reported per severity and corruption, per corruption, per
    severity (mean over corruptions) and as one mean."""
    x, y = blobs(300, 0)
    probe = train_probe(x, y, 3, LinearEvalConfig(epochs=10, lr=0.05), seed=0)
    wrong = (y + 1) % 3
    sets = {
        "digits": (x, y),
        "m-c/noise/1": (x, y),
        "m-c/noise/2": (x, wrong),
        "m-c/blur/1": (x, y),
    }
    m = ood_metrics(probe, sets)
    assert m["m-c/noise/top1"] == (m["m-c/noise/1/top1"] + m["m-c/noise/2/top1"]) / 2
    expected = (m["m-c/noise/1/top1"] + m["m-c/noise/2/top1"] + m["m-c/blur/1/top1"]) / 3
    assert abs(m["m-c/top1"] - expected) < 1e-9
    at_1 = (m["m-c/noise/1/top1"] + m["m-c/blur/1/top1"]) / 2
    assert m["m-c/all/1/top1"] == at_1 and m["m-c/all/2/top1"] == m["m-c/noise/2/top1"]
    heads = headline({f"ood/{k}": v for k, v in m.items()})
    assert set(heads) == {"ood/digits/top1", "ood/m-c/top1"}


def test_chance_level_probe_is_warned_about() -> None:
    """A probe at chance accuracy (a diverged probe) gets a warning naming eval.linear.lr;
    a working one does not."""
    from sslctl.evals.linear import chance_warning

    warning = chance_warning(10.3, 10, 1e6)
    assert warning is not None and "eval.linear.lr" in warning and "1e+06" in warning
    assert chance_warning(90.0, 10, 1e-3) is None
