"""Datasets (uint8 tensors in memory), batched augmentation and corruption suites.

This module is imported by the recipe validator, so it must not import torch: the
heavy functions are re-exported lazily.
"""

from __future__ import annotations

from typing import Any

IN_DOMAIN = ("mnist5k", "fashion-mnist", "cifar10", "cifar100", "stl10")
IMAGEFOLDER = "imagefolder:"


def available_datasets() -> list[str]:
    """Names accepted by ``data.name``."""
    return [*IN_DOMAIN, f"{IMAGEFOLDER}<path>"]


def is_known_dataset(name: str) -> bool:
    return name in IN_DOMAIN or (name.startswith(IMAGEFOLDER) and len(name) > len(IMAGEFOLDER))


def is_known_ood(name: str) -> bool:
    """``digits``, ``<dataset>-c`` (corruptions of a dataset's test split) or a dataset."""
    if name == "digits" or is_known_dataset(name):
        return True
    return name.endswith("-c") and is_known_dataset(name[:-2])


def __getattr__(name: str) -> Any:
    if name in ("load_dataset", "load_ood", "Dataset", "ImageSet"):
        from sslctl.data import datasets

        return getattr(datasets, name)
    raise AttributeError(name)
