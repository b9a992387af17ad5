"""Batched augmentation: shapes, determinism, per-sample parameters, and the same
distribution as torchvision's per-image pipeline (compared through statistics)."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import ks_2samp
from torchvision.transforms import v2 as T

from sslctl.data.augment import BatchAugment, blur_kernel_size, to_input
from sslctl.data.datasets import load_dataset

MEAN, STD = (0.13,), (0.31,)
RAW = {"mean": (0.0,), "std": (1.0,)}  # no normalisation: outputs stay in [0, 1]
NORM = {"mean": MEAN, "std": STD}
CPU = torch.device("cpu")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("mnist5k").train.images[:600]


def smooth_rgb(n: int, size: int = 24) -> torch.Tensor:
    """uint8 RGB images: a random colour per image times a soft gradient (saturated, varied
    hues, not flat) so every colour op changes them."""
    g = gen(1)
    base = torch.rand(n, 3, 1, 1, generator=g)
    ramp = torch.linspace(0.3, 1.0, size).view(1, 1, 1, size)
    return (base * ramp * 255).expand(n, 3, size, size).round().to(torch.uint8).contiguous()


def per_image(transform: T.Transform, images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.stack([transform(img.float() / 255) for img in images])


def test_shape_dtype_range_and_seeded_determinism(digits: torch.Tensor) -> None:
    """float [B, C, out, out]; unnormalised values in [0, 1]; same seed -> same views,
    another seed -> other views."""
    policy = dict(
        out_size=20, rotation=15, shear=10, flip=0.5, jitter=0.8, blur=0.5, solarize=0.2,
        noise=0.5, crop_scale=(0.3, 1.0),
    )  # fmt: skip
    a = BatchAugment(**NORM, **policy, generator=gen(0))(digits[:64])
    b = BatchAugment(**NORM, **policy, generator=gen(0))(digits[:64])
    c = BatchAugment(**NORM, **policy, generator=gen(1))(digits[:64])
    assert a.shape == (64, 1, 20, 20) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    raw = BatchAugment(**RAW, **policy, generator=gen(0))(digits[:64])
    assert raw.min() >= 0 and raw.max() <= 1


def test_identity_policy_equals_eval_input(digits: torch.Tensor) -> None:
    """All probabilities 0 and crop_scale (1, 1) (whole image) give exactly to_input."""
    x = smooth_rgb(8)
    for images, mean, std in ((digits[:16], MEAN, STD), (x, (0.5,) * 3, (0.2,) * 3)):
        out = BatchAugment(mean=mean, std=std, out_size=images.shape[-1], crop_scale=(1.0, 1.0))
        torch.testing.assert_close(out(images), to_input(images, mean, std), atol=1e-5, rtol=0)


def test_parameters_differ_per_sample(digits: torch.Tensor) -> None:
    """One image repeated in a batch gets a different view per sample (one call)."""
    x = digits[:1].repeat(16, 1, 1, 1)
    out = BatchAugment(**NORM, out_size=28, rotation=30, jitter=1.0, generator=gen())(x)
    assert len({v.numpy().tobytes() for v in out}) == 16


def test_crop_size_distribution_is_torchvisions() -> None:
    """Crop area and aspect ratio follow RandomResizedCrop.get_params (KS two-sample
    test on a 100x100 image, including its 10-attempt fallback at large scales)."""
    for scale, ratio in (((0.08, 1.0), (3 / 4, 4 / 3)), ((0.5, 1.0), (0.5, 2.0))):
        aug = BatchAugment(**RAW, out_size=28, crop_scale=scale, crop_ratio=ratio, generator=gen())
        w, h, _, _ = aug.crop_boxes(3000, 100, 100, CPU)
        torch.manual_seed(0)
        image = torch.zeros(1, 100, 100)
        params = [T.RandomResizedCrop.get_params(image, scale, ratio) for _ in range(3000)]
        ref = torch.tensor([p[2:] for p in params], dtype=torch.float64) / 100
        assert ks_2samp((w * h).numpy(), (ref[:, 0] * ref[:, 1]).numpy()).statistic < 0.05
        assert ks_2samp((w / h).numpy(), (ref[:, 1] / ref[:, 0]).numpy()).statistic < 0.05


def stats(views: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image statistics whose distributions are compared."""
    return {
        "mean": views.mean((1, 2, 3)),
        "std": views.std((1, 2, 3)),
        "bright": (views > 0.5).float().mean((1, 2, 3)),
    }


def assert_same_distribution(
    ours: torch.Tensor, ref: torch.Tensor, keys: tuple[str, ...] = ("mean", "std", "bright")
) -> None:
    """Each per-image statistic has the same distribution in both samples: a two-sample
    Kolmogorov-Smirnov test does not reject at the 0.1% level (seeds are fixed, so this
    is deterministic)."""
    a, b = stats(ours), stats(ref)
    for key in keys:
        test = ks_2samp(a[key].numpy(), b[key].numpy())
        assert test.pvalue > 1e-3, (key, test, float(a[key].mean()), float(b[key].mean()))


def test_geometry_matches_affine_then_resized_crop_then_flip(digits: torch.Tensor) -> None:
    """One composed resample has the distribution of torchvision's RandomAffine ->
    RandomResizedCrop -> RandomHorizontalFlip. Crop + flip on digits: every statistic.
    With rotation and shear: the share of black fill on white images, and the ink of
    digits (not their pixel spread: torchvision resamples twice, which blurs more)."""
    white = torch.full((600, 1, 28, 28), 255, dtype=torch.uint8)
    crop = dict(out_size=28, crop_scale=(0.2, 1.0), flip=0.5)
    tilt = dict(crop, rotation=30, shear=15)
    bilinear = T.InterpolationMode.BILINEAR
    for images, kw, affine, keys in (
        (digits, crop, T.Identity(), ("mean", "std", "bright")),
        (white, tilt, T.RandomAffine(30, shear=15), ("mean",)),
        (digits, tilt, T.RandomAffine(30, shear=15, interpolation=bilinear), ("mean", "bright")),
    ):
        tv = T.Compose(
            [affine, T.RandomResizedCrop(28, scale=(0.2, 1.0)), T.RandomHorizontalFlip()]
        )
        ours = BatchAugment(**RAW, **kw, generator=gen())(images)
        assert_same_distribution(ours, per_image(tv, images), keys)


def test_colour_jitter_grayscale_matches_torchvision() -> None:
    """RandomApply(ColorJitter) + RandomGrayscale on RGB images: same distribution of
    per-image statistics and of per-channel means as torchvision's per-image ops."""
    x = smooth_rgb(400, size=16)
    tv = T.Compose(
        [
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(0.2),
        ]
    )
    ours = BatchAugment(
        **RAW, out_size=16, crop_scale=(1.0, 1.0), jitter=0.8, brightness=0.4, contrast=0.4,
        saturation=0.4, hue=0.1, grayscale=0.2, generator=gen(),
    )(x)  # fmt: skip
    ref = per_image(tv, x)
    assert_same_distribution(ours, ref)
    for c in range(3):
        a, b = ours[:, c].mean((1, 2)), ref[:, c].mean((1, 2))
        assert ks_2samp(a.numpy(), b.numpy()).pvalue > 1e-3, c


def test_blur_solarize_noise_match_their_per_image_versions(digits: torch.Tensor) -> None:
    """RandomApply(GaussianBlur(k)) + RandomSolarize: same statistics as
    torchvision's; noise raises the pixel std by the expected amount."""
    size = blur_kernel_size(28)
    tv = T.Compose(
        [
            T.RandomApply([T.GaussianBlur(size, sigma=(0.1, 2.0))], p=0.5),
            T.RandomSolarize(0.5, p=0.3),
        ]
    )
    ours = BatchAugment(
        **RAW, out_size=28, crop_scale=(1.0, 1.0), blur=0.5, solarize=0.3, generator=gen()
    )(digits)
    assert_same_distribution(ours, per_image(tv, digits))
    flat = torch.full((400, 1, 28, 28), 128, dtype=torch.uint8)
    noisy = BatchAugment(
        **RAW, out_size=28, crop_scale=(1.0, 1.0), noise=1.0, noise_std=0.2, generator=gen()
    )(flat)
    # std ~ U(0, 0.2): E[std^2] = 0.2^2 / 3 (clipping at 0 and 1 is negligible here)
    assert abs(float(noisy.var()) - 0.04 / 3) < 0.001


def test_blur_kernel_covers_the_largest_sigma() -> None:
    """Odd kernel of ~10% of the side (SimCLR/BYOL: 224 -> 23), widened to 2 ceil(3 sigma)
    + 1 taps so sigma 2 is a Gaussian, not a 3x3 box, on small images; capped at the side."""
    assert [blur_kernel_size(s) for s in (28, 32, 64, 96, 224)] == [13, 13, 13, 13, 23]
    assert [blur_kernel_size(s, 0.5) for s in (28, 224)] == [5, 23]
    assert blur_kernel_size(8) == 7 and blur_kernel_size(4, 0.1) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_with_a_cuda_or_a_cpu_generator(digits: torch.Tensor) -> None:
    """Views are made on the images' device; a CUDA generator is deterministic; a CPU
    generator draws the same parameters as on the CPU, so the views match the CPU's."""
    policy = dict(
        out_size=28, crop_scale=(0.3, 1.0), rotation=15, jitter=0.8, blur=0.5, solarize=0.2
    )
    x = digits[:128].cuda()
    a = BatchAugment(**NORM, **policy, generator=torch.Generator("cuda").manual_seed(0))(x)
    b = BatchAugment(**NORM, **policy, generator=torch.Generator("cuda").manual_seed(0))(x)
    assert a.device.type == "cuda" and torch.equal(a, b)
    on_gpu = BatchAugment(**NORM, **policy, generator=gen(3))(x).cpu()
    on_cpu = BatchAugment(**NORM, **policy, generator=gen(3))(x.cpu())
    torch.testing.assert_close(on_gpu, on_cpu, atol=1e-3, rtol=0)
