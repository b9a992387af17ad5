"""The probe run during pretraining: a short cached-feature linear probe (the default) or
a weighted kNN, each exactly the evaluation it names."""

from __future__ import annotations

import pytest
import torch

from sslctl.errors import SslctlError
from sslctl.evals.knn import knn_top1
from sslctl.evals.linear import train_probe
from sslctl.evals.probe import probe_top1, protocol
from sslctl.recipe import load_recipe
from sslctl.recipe.schema import LinearEvalConfig, ProbeConfig


def _features(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three noisy clusters in 16 dimensions, overlapping enough that the two probes and
    different probe lengths give different accuracies."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (400,), generator=g)
    centres = torch.randn(3, 16, generator=torch.Generator().manual_seed(9))
    return centres[labels] + 1.5 * torch.randn(400, 16, generator=g), labels


def test_linear_probe_is_the_cached_linear_probe_with_the_probe_epochs() -> None:
    """kind linear = train_probe with eval.linear's optimiser and eval.probe.epochs."""
    (x, y), (xt, yt) = _features(0), _features(1)
    linear = LinearEvalConfig(epochs=100, lr=0.05)
    got = probe_top1(
        x, y, xt, yt, num_classes=3, cfg=ProbeConfig(every=1, epochs=2), linear=linear, seed=3
    )
    short = LinearEvalConfig(epochs=2, lr=0.05)
    assert got == train_probe(x, y, 3, short, seed=3).top1(xt, yt)
    assert got > 50  # well above chance (33%) after two epochs


def test_knn_probe_is_the_weighted_knn() -> None:
    """kind knn = knn_top1 with the probe's k and the given temperature."""
    (x, y), (xt, yt) = _features(0), _features(1)
    cfg = ProbeConfig(every=1, kind="knn", k=5)
    got = probe_top1(
        x, y, xt, yt, num_classes=3, cfg=cfg, linear=LinearEvalConfig(), temperature=0.1
    )
    assert got == knn_top1(x, y, xt, yt, k=5, temperature=0.1, num_classes=3)


def test_protocol_names_the_probe() -> None:
    """The logged protocol says which probe ran and how."""
    linear = LinearEvalConfig(lr=0.002)
    assert "linear probe" in protocol(ProbeConfig(every=2, epochs=7), linear)
    assert "7 epochs" in protocol(ProbeConfig(every=2, epochs=7), linear)
    assert "kNN probe (k=9)" in protocol(ProbeConfig(every=2, kind="knn", k=9), linear)


def test_unknown_probe_kind_is_refused_by_name(tmp_path) -> None:
    """eval.probe.kind outside linear|knn: an error naming the field and the value."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method: {name: vicreg}\neval: {probe: {every: 1, kind: svm}}\n")
    with pytest.raises(SslctlError) as info:
        load_recipe(recipe)
    assert "eval.probe.kind" in str(info.value) and "svm" in str(info.value)
