"""Backbones: a small ResNet for 28x28 inputs on a CPU, and torchvision ResNets with the
CIFAR stem (3x3 convolution, no max-pool) used by solo-learn and the papers' CIFAR runs."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """The ResNet basic block (two 3x3 convolutions and a shortcut)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetMini(nn.Module):
    """Three stages of two basic blocks (widths w, 2w, 4w; strides 1, 2, 2), global average
    pooling: 28x28 -> 7x7 feature maps, ``4 * width`` features. About 0.7M parameters at
    width 32, sized for CPU pretraining on MNIST-scale data in minutes."""

    def __init__(self, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages = []
        in_ch = width
        for i, stride in enumerate((1, 2, 2)):
            out_ch = width * 2**i
            stages += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch, 1)]
            in_ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)


def _torchvision_resnet(name: str, in_channels: int, cifar_stem: bool) -> tuple[nn.Module, int]:
    import torchvision

    net = getattr(torchvision.models, name)(weights=None)
    if cifar_stem:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    out_dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, out_dim


def build_backbone(
    name: str, *, in_channels: int, width: int = 32, cifar_stem: bool = True
) -> tuple[nn.Module, int]:
    """Return ``(backbone, feature_dim)``; the backbone maps images to flat features."""
    if name == "resnet-mini":
        net = ResNetMini(in_channels, width)
        return net, net.out_dim
    if name in ("resnet18", "resnet50"):
        return _torchvision_resnet(name, in_channels, cifar_stem)
    raise ValueError(f"unknown backbone {name!r}; expected resnet-mini, resnet18 or resnet50")
