"""A synthetic ImageFolder of real image files, for tests and the ``data`` benchmark.

Each class has its own colour and stripe orientation (content differs by class, so a
linear probe can learn something), on a noisy background; sizes vary between
``min_side`` and ``max_side``. Most files are RGB JPEGs; every ``png_every``-th is a PNG
and every ``gray_every``-th a grayscale JPEG, as in real web-crawled folders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic_image(label: int, classes: int, height: int, width: int, rng: np.random.Generator):
    """An ``height x width x 3`` uint8 array whose hue and stripe angle encode ``label``."""
    angle = np.pi * label / classes
    period = 12 + 4 * (label % 3)
    phase = rng.uniform(0, 2 * np.pi)
    # the stripe argument as an outer sum of a column and a row (float32 throughout)
    ys = np.arange(height, dtype=np.float32)[:, None] * np.float32(np.sin(angle) / period)
    xs = np.arange(width, dtype=np.float32)[None, :] * np.float32(np.cos(angle) / period)
    stripes = 0.5 + 0.5 * np.sin(ys + (xs + np.float32(phase)))
    hue = 2 * np.pi * label / classes
    colour = 0.5 + 0.5 * np.array([np.cos(hue), np.cos(hue - 2.1), np.cos(hue + 2.1)])
    image = stripes[..., None] * (colour * 200).astype(np.float32) + 20
    # pixel noise of standard deviation ~12.4, uniform (a Gaussian draw took 40% of the time)
    image += rng.integers(-21, 22, (height, width, 3), dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_imagefolder(
    root: Path,
    *,
    classes: int = 10,
    train_per_class: int = 12,
    val_per_class: int = 4,
    min_side: int = 150,
    max_side: int = 600,
    seed: int = 0,
    png_every: int = 17,
    gray_every: int = 23,
    val_name: str = "val",
) -> Path:
    """``root/train/<class>/*`` and ``root/<val_name>/<class>/*`` image files; returns root."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    count = 0
    for split, per_class in (("train", train_per_class), (val_name, val_per_class)):
        for label in range(classes):
            folder = root / split / f"class_{label:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                h, w = (int(v) for v in rng.integers(min_side, max_side + 1, 2))
                image = Image.fromarray(synthetic_image(label, classes, h, w, rng))
                count += 1
                if count % gray_every == 0:
                    image = image.convert("L")
                if count % png_every == 0:
                    image.save(folder / f"{i:05d}.png")
                else:
                    image.save(folder / f"{i:05d}.jpg", quality=90)
    return root
