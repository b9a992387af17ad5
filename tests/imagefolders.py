"""Image folders written with PIL for the tests: ``root/<class>/<i>.png`` (or .jpg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def write_folder(
    root: Path,
    images: torch.Tensor,
    labels: list[str],
    *,
    size: int = 32,
    suffix: str = ".png",
    invert: bool = False,
) -> Path:
    """Save uint8 images [N, C, H, W] as RGB files of side ``size`` under
    ``root/<label>/``; ``invert`` writes dark-on-light images."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        array = image.permute(1, 2, 0).numpy()
        array = 255 - array if invert else array
        pil = Image.fromarray(
            np.ascontiguousarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
        )
        pil.convert("RGB").resize((size, size)).save(folder / f"{i}{suffix}")
    return root


def digit_folder(root: Path, dataset, classes: tuple[int, ...], per_class: int, **kw) -> Path:
    """Real test-split digits of ``classes`` written as a folder with digit class names."""
    images, labels = [], []
    for c in classes:
        idx = (dataset.test.labels == c).nonzero().flatten()[:per_class]
        images.append(dataset.test.images[idx])
        labels += [str(c)] * len(idx)
    return write_folder(root, torch.cat(images), labels, **kw)
