"""Backbones map images to flat features of the advertised dimension."""

from __future__ import annotations

import pytest
import torch

from sslctl.models.backbones import build_backbone


def test_resnet_mini_on_mnist_sized_inputs() -> None:
    """resnet-mini: 28x28 grayscale -> 4 * width features."""
    net, dim = build_backbone("resnet-mini", in_channels=1, width=8)
    assert dim == 32 and net(torch.randn(2, 1, 28, 28)).shape == (2, 32)


@pytest.mark.parametrize(("name", "dim"), [("resnet18", 512), ("resnet50", 2048)])
def test_torchvision_resnets_with_cifar_stem(name: str, dim: int) -> None:
    """The CIFAR stem (3x3 conv, no max-pool) keeps 32x32 inputs at full resolution."""
    net, out = build_backbone(name, in_channels=3, cifar_stem=True)
    assert out == dim
    assert net.conv1.kernel_size == (3, 3) and isinstance(net.maxpool, torch.nn.Identity)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, dim)


def test_unknown_backbone() -> None:
    """An unknown name is a ValueError that lists the known ones."""
    with pytest.raises(ValueError, match="resnet-mini"):
        build_backbone("vit", in_channels=1)
