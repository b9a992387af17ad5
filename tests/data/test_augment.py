"""Batched augmentation: shapes, determinism, per-sample parameters, and the same
distribution as torchvision's per-image transforms."""

from __future__ import annotations

import math

import torch

from sslctl.data.augment import BatchAugment, to_input
from sslctl.data.datasets import load_dataset

MEAN, STD = (0.13,), (0.31,)


def images(n: int = 256) -> torch.Tensor:
    return load_dataset("mnist5k").train.images[:n]


def test_shape_dtype_and_seeded_determinism() -> None:
    """Output float [B, C, out, out]; same generator seed -> identical views."""
    x = images(64)
    kw = dict(
        mean=MEAN,
        std=STD,
        out_size=28,
        rotation=15,
        shear=10,
        jitter=0.8,
        blur=0.5,
        noise=0.5,
        crop_scale=(0.3, 1.0),
    )
    a = BatchAugment(**kw, generator=torch.Generator().manual_seed(0))(x)
    b = BatchAugment(**kw, generator=torch.Generator().manual_seed(0))(x)
    assert a.shape == (64, 1, 28, 28) and a.dtype == torch.float32
    assert torch.equal(a, b)


def test_identity_policy_equals_eval_input() -> None:
    """No randomness (probabilities 0, full crop) gives exactly the evaluation input."""
    x = images(16)
    aug = BatchAugment(
        mean=MEAN, std=STD, out_size=28, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0)
    )
    assert torch.allclose(aug(x), to_input(x, MEAN, STD), atol=1e-5)


def test_parameters_differ_per_sample() -> None:
    """The same image repeated in a batch gets different views."""
    x = images(1).repeat(8, 1, 1, 1)
    out = BatchAugment(mean=MEAN, std=STD, out_size=28, rotation=30)(x)
    assert len({bytes(v.numpy().tobytes()) for v in out}) == 8


def test_crop_area_and_ratio_follow_torchvision_sampling() -> None:
    """Sampled crops have torchvision's RandomResizedCrop distribution: compare with
    torchvision's own get_params on the same square image (mean area and log-ratio)."""
    from torchvision.transforms import RandomResizedCrop

    aug = BatchAugment(
        mean=MEAN,
        std=STD,
        out_size=28,
        crop_scale=(0.08, 1.0),
        generator=torch.Generator().manual_seed(0),
    )
    w, h = aug.crop_sizes(20000, torch.device("cpu"))
    torch.manual_seed(0)
    ref = (
        torch.tensor(
            [
                RandomResizedCrop.get_params(torch.zeros(1, 100, 100), [0.08, 1.0], [3 / 4, 4 / 3])[
                    2:
                ]
                for _ in range(20000)
            ],
            dtype=torch.float64,
        )
        / 100
    )
    ours_area, ref_area = float((w * h).mean()), float((ref[:, 0] * ref[:, 1]).mean())
    assert abs(ours_area - ref_area) < 0.01, (ours_area, ref_area)
    ours_ratio = float(torch.log(w / h).abs().mean())
    ref_ratio = float(torch.log(ref[:, 1] / ref[:, 0]).abs().mean())
    assert abs(ours_ratio - ref_ratio) < 0.01 + 0.02 * math.log(4 / 3)


def test_colour_jitter_matches_torchvision_statistics() -> None:
    """Brightness/contrast jitter: per-image mean and std of the output match those of
    torchvision's ColorJitter applied image by image (within sampling error)."""
    from torchvision.transforms import ColorJitter

    x = images(512)
    ours = BatchAugment(
        mean=(0.0,),
        std=(1.0,),
        out_size=28,
        crop_scale=(1.0, 1.0),
        crop_ratio=(1.0, 1.0),
        jitter=1.0,
        brightness=0.4,
        contrast=0.4,
        generator=torch.Generator().manual_seed(0),
    )(x)
    torch.manual_seed(0)
    cj = ColorJitter(brightness=0.4, contrast=0.4)
    ref = torch.stack([cj(img.float() / 255) for img in x])
    for stat in (lambda t: t.mean((1, 2, 3)), lambda t: t.std((1, 2, 3))):
        a, b = stat(ours), stat(ref)
        assert abs(float(a.mean() - b.mean())) < 0.01
        assert abs(float(a.std() - b.std())) < 0.01
