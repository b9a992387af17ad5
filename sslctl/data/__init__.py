"""Datasets (uint8 tensors in memory), batched augmentation and corruption suites.

The recipe validator imports this package, so importing it must not import torch: the
names come from the torch-free :mod:`sslctl.data.catalog`, and everything else is
re-exported lazily on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sslctl.data.catalog import (
    CORRUPTIONS,
    SEVERITIES,
    available_corruptions,
    available_datasets,
    available_ood,
    is_known_dataset,
    is_known_ood,
)

if TYPE_CHECKING:
    from sslctl.data.augment import BatchAugment, to_input
    from sslctl.data.corruptions import corrupt
    from sslctl.data.datasets import Dataset, ImageSet, load_dataset, load_ood

_LAZY = {
    "Dataset": "datasets",
    "ImageSet": "datasets",
    "load_dataset": "datasets",
    "load_ood": "datasets",
    "BatchAugment": "augment",
    "to_input": "augment",
    "corrupt": "corruptions",
}

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "BatchAugment",
    "Dataset",
    "ImageSet",
    "available_corruptions",
    "available_datasets",
    "available_ood",
    "corrupt",
    "is_known_dataset",
    "is_known_ood",
    "load_dataset",
    "load_ood",
    "to_input",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"sslctl.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'sslctl.data' has no attribute {name!r}")
