"""Data-side figures: sslctl's batched two-view augmentation against the usual torchvision
per-image pipeline in a DataLoader (same transforms, same images, same number of workers),
and the cached-feature linear probe against the re-encoding protocol (solo-learn's
``main_linear``: every epoch re-encodes augmented images through the frozen backbone)."""

from __future__ import annotations

import time

import torch

from sslctl.bench.common import Figure

POLICY = dict(
    crop_scale=(0.3, 1.0),
    rotation=15.0,
    jitter=0.8,
    brightness=0.4,
    contrast=0.4,
    blur=0.5,
    blur_sigma=(0.1, 1.5),
)


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


def linear_eval(pretrain_epochs: int = 5, epochs: int = 100) -> list[Figure]:
    """Wall time and accuracy of the cached-feature probe and of the re-encoding protocol
    on a briefly pretrained quickstart backbone."""
    import tempfile
    from pathlib import Path

    from sslctl.bench.compute import RECIPES
    from sslctl.data.augment import BatchAugment, to_input
    from sslctl.data.datasets import load_dataset
    from sslctl.evals.features import encode
    from sslctl.evals.linear import train_probe
    from sslctl.recipe import load_recipe
    from sslctl.runtime import pick_device, pick_dtype
    from sslctl.train import Pretrainer

    recipe = load_recipe(
        RECIPES / "vicreg.yaml", [f"optim.epochs={pretrain_epochs}", "optim.warmup_epochs=1"]
    )
    data = load_dataset("mnist5k")
    device = pick_device()
    dtype = pick_dtype("auto", device)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Pretrainer(recipe, data, device, dtype, Path(tmp) / "ck.pt")
        trainer.fit()
    backbone = trainer.model.backbone.eval()

    start = time.perf_counter()
    feats = [
        encode(backbone, s.images, mean=data.mean, std=data.std, device=device, dtype=dtype)
        for s in (data.train, data.test)
    ]
    probe = train_probe(feats[0], data.train.labels, 10, recipe.eval.linear, seed=0)
    cached_acc = probe.top1(feats[1], data.test.labels)
    cached_s = time.perf_counter() - start

    start = time.perf_counter()
    head = torch.nn.Linear(trainer.model.feature_dim, 10)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4)
    aug = BatchAugment(
        mean=data.mean,
        std=data.std,
        out_size=28,
        crop_scale=(0.3, 1.0),
        generator=torch.Generator().manual_seed(0),
    )
    steps = len(data.train.images) // 256
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps)
    for _ in range(epochs):
        order = torch.randperm(len(data.train.images))
        for i in range(steps):
            idx = order[i * 256 : (i + 1) * 256]
            with torch.no_grad():
                x = backbone(aug(data.train.images[idx].to(device))).float().cpu()
            loss = torch.nn.functional.cross_entropy(head(x), data.train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        test = backbone(to_input(data.test.images.to(device), data.mean, data.std)).float().cpu()
    reenc_acc = 100 * float((head(test).argmax(1) == data.test.labels).float().mean())
    reenc_s = time.perf_counter() - start
    return [
        Figure(
            "linear",
            "cached-feature probe",
            cached_s,
            "s",
            f"top-1 {cached_acc:.1f}%; {reenc_s / cached_s:.0f}x faster",
            {"top1": cached_acc, "ratio": reenc_s / cached_s},
        ),
        Figure(
            "linear",
            f"re-encoding protocol ({epochs} epochs, augmented)",
            reenc_s,
            "s",
            f"top-1 {reenc_acc:.1f}%",
            {"top1": reenc_acc},
        ),
    ]
