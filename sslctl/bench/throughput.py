"""Data-side figures: sslctl's batched two-view augmentation against the usual torchvision
per-image pipeline in a DataLoader (same transforms, same images, same number of workers),
and the cached-feature linear probe against the re-encoding protocol (solo-learn's
``main_linear``: every epoch re-encodes augmented images through the frozen backbone)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from sslctl.bench.common import Figure

if TYPE_CHECKING:
    from sslctl.data.datasets import Dataset
    from sslctl.evals.linear import LinearProbe
    from sslctl.recipe.schema import LinearEvalConfig

POLICY = dict(
    crop_scale=(0.3, 1.0),
    rotation=15.0,
    jitter=0.8,
    brightness=0.4,
    contrast=0.4,
    blur=0.5,
    blur_sigma=(0.1, 1.5),
)


# solo-learn's linear-evaluation training crop (RandomResizedCrop, scale 0.08-1); its
# horizontal flip is left out because it changes a digit's identity.
SOLO_LEARN_LINEAR_CROP = (0.08, 1.0)


class _PerImage(torch.utils.data.Dataset):
    """The usual per-image pipeline: PIL image -> torchvision transforms, two views."""

    def __init__(self, images: torch.Tensor, mean: float, std: float) -> None:
        from torchvision import transforms as T

        self.images = images
        self.transform = T.Compose(
            [
                T.RandomResizedCrop(28, scale=POLICY["crop_scale"]),
                T.RandomRotation(POLICY["rotation"]),
                T.RandomApply([T.ColorJitter(POLICY["brightness"], POLICY["contrast"])], p=0.8),
                T.RandomApply([T.GaussianBlur(5, sigma=POLICY["blur_sigma"])], p=0.5),
                T.ToTensor(),
                T.Normalize((mean,), (std,)),
            ]
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        img = Image.fromarray(self.images[i, 0].numpy())
        return self.transform(img), self.transform(img)


def augmentation(workers: int = 2, batch: int = 256, batches: int = 8) -> list[Figure]:
    """Two-view images/s: batched (one call per batch) vs torchvision in a DataLoader."""
    from sslctl.data.augment import BatchAugment
    from sslctl.data.datasets import load_dataset

    data = load_dataset("mnist5k")
    images = data.train.images[: batch * batches]
    aug = BatchAugment(
        mean=data.mean,
        std=data.std,
        out_size=28,
        **POLICY,
        generator=torch.Generator().manual_seed(0),
    )
    aug(images[:batch])
    start = time.perf_counter()
    for i in range(batches):
        chunk = images[i * batch : (i + 1) * batch]
        aug(chunk), aug(chunk)
    ours = 2 * len(images) / (time.perf_counter() - start)

    loader = torch.utils.data.DataLoader(
        _PerImage(images, data.mean[0], data.std[0]), batch_size=batch, num_workers=workers
    )
    start = time.perf_counter()
    for _ in loader:
        pass
    theirs = 2 * len(images) / (time.perf_counter() - start)
    return [
        Figure(
            "augment",
            "batched two-view augmentation",
            ours,
            "img/s",
            f"{ours / theirs:.1f}x torchvision",
            {"ratio": ours / theirs},
        ),
        Figure(
            "augment",
            f"torchvision per-image, DataLoader({workers} workers)",
            theirs,
            "img/s",
            "crop, rotation, jitter, blur, normalise",
        ),
    ]


def _pretrained(pretrain_epochs: int) -> tuple[Any, Any, Any, Any, Any]:
    """A briefly pretrained quickstart (VICReg) backbone, its recipe, data, device, dtype."""
    import tempfile
    from pathlib import Path

    from sslctl.bench.compute import RECIPES
    from sslctl.data.datasets import load_dataset
    from sslctl.recipe import load_recipe
    from sslctl.runtime import pick_device, pick_dtype, seed_everything
    from sslctl.train import Pretrainer

    recipe = load_recipe(
        RECIPES / "vicreg.yaml", [f"optim.epochs={pretrain_epochs}", "optim.warmup_epochs=1"]
    )
    data = load_dataset("mnist5k")
    device = pick_device()
    dtype = pick_dtype("auto", device)
    seed_everything(recipe.seed)  # as the pipeline does: the same backbone every run
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Pretrainer(recipe, data, device, dtype, Path(tmp) / "ck.pt")
        trainer.fit()
    return trainer.model.backbone.eval(), recipe, data, device, dtype


def reencoding_probe(
    backbone: torch.nn.Module,
    data: Dataset,
    cfg: LinearEvalConfig,
    device: torch.device,
    dtype: torch.dtype | None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None,
    *,
    seed: int = 0,
) -> LinearProbe:
    """The re-encoding protocol: every step encodes its training batch through the frozen
    backbone (augmented when ``augment`` is given, as solo-learn's ``main_linear`` does).
    The head is trained by the cached probe's own :func:`sslctl.evals.linear.fit_head`
    (same initialisation, optimiser, schedule, batch order and seed), standardised with the
    clean training features' statistics, so without augmentation it trains the same
    :class:`LinearProbe` as the cached protocol, only slower."""
    from sslctl.data.augment import to_input
    from sslctl.evals.features import encode
    from sslctl.evals.linear import fit_head, robust_std
    from sslctl.runtime import autocast

    images = data.train.images
    clean = encode(backbone, images, mean=data.mean, std=data.std, device=device, dtype=dtype)
    mean, std = clean.mean(0), robust_std(clean)
    del clean
    view = augment or (lambda x: to_input(x, data.mean, data.std))

    @torch.no_grad()
    def reencode(idx: torch.Tensor) -> torch.Tensor:
        with autocast(device, dtype):
            return backbone(view(images[idx].to(device))).float().cpu()

    return fit_head(reencode, data.train.labels, data.train.num_classes, cfg, mean, std, seed=seed)


def linear_eval(pretrain_epochs: int = 20, epochs: int = 100) -> list[Figure]:
    """Wall time and accuracy of the cached-feature probe and of the re-encoding protocol,
    without and with augmentation, on a briefly pretrained quickstart backbone. All three
    train the same head with the same optimiser, schedule, batch order and seed."""
    from sslctl.data.augment import BatchAugment
    from sslctl.evals.features import encode
    from sslctl.evals.linear import train_probe

    backbone, recipe, data, device, dtype = _pretrained(pretrain_epochs)
    cfg = recipe.eval.linear.model_copy(update={"epochs": epochs})

    start = time.perf_counter()
    feats = [
        encode(backbone, s.images, mean=data.mean, std=data.std, device=device, dtype=dtype)
        for s in (data.train, data.test)
    ]
    probe = train_probe(feats[0], data.train.labels, data.train.num_classes, cfg, seed=0)
    cached_acc = probe.top1(feats[1], data.test.labels)
    cached_s = time.perf_counter() - start

    def reencoded(augment: Callable[[torch.Tensor], torch.Tensor] | None) -> tuple[float, float]:
        start = time.perf_counter()
        probe = reencoding_probe(backbone, data, cfg, device, dtype, augment)
        return probe.top1(feats[1], data.test.labels), time.perf_counter() - start

    plain_acc, plain_s = reencoded(None)

    augment = BatchAugment(
        mean=data.mean,
        std=data.std,
        out_size=data.train.images.shape[-1],
        crop_scale=SOLO_LEARN_LINEAR_CROP,
        generator=torch.Generator().manual_seed(0),
    )
    aug_acc, aug_s = reencoded(augment)
    return [
        Figure(
            "linear",
            f"cached-feature probe ({epochs} epochs)",
            cached_s,
            "s",
            f"top-1 {cached_acc:.1f}%; {aug_s / cached_s:.0f}x faster than augmented re-encoding",
            {"top1": cached_acc, "ratio": aug_s / cached_s, "ratio_plain": plain_s / cached_s},
        ),
        Figure(
            "linear",
            "re-encoding, no augmentation (same probe)",
            plain_s,
            "s",
            f"top-1 {plain_acc:.1f}% ({cached_acc - plain_acc:+.1f} for cached)",
            {"top1": plain_acc},
        ),
        Figure(
            "linear",
            "re-encoding, random resized crop 0.08-1 (solo-learn)",
            aug_s,
            "s",
            f"top-1 {aug_acc:.1f}% ({cached_acc - aug_acc:+.1f} for cached)",
            {"top1": aug_acc},
        ),
    ]
