"""The names sslctl knows, torch-free (the recipe validator imports this).

In-domain datasets (``data.name``): the built-in ``mnist5k``, ``fashion-mnist``,
``cifar10``, ``cifar100``, ``stl10``, ``imagefolder:<path>`` and ``shards:<path>`` (a
folder written by ``sslctl data pack``, streamed: :mod:`sslctl.data.stream`). Out-of-domain sets
(``eval.ood.datasets``): ``digits``, any in-domain dataset, and ``<dataset>-c``, the
corruption suite of a dataset's test split.
"""

from __future__ import annotations

IN_DOMAIN: tuple[str, ...] = ("mnist5k", "fashion-mnist", "cifar10", "cifar100", "stl10")
IMAGEFOLDER = "imagefolder:"
SHARDS = "shards:"
DIGITS = "digits"
SUITE_SUFFIX = "-c"

CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "gaussian_blur",
    "contrast",
    "rotation",
    "elastic",
    "pixelate",
)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)


def available_datasets() -> list[str]:
    """Names accepted by ``data.name``."""
    return [*IN_DOMAIN, f"{IMAGEFOLDER}<path>", f"{SHARDS}<path>"]


def available_ood() -> list[str]:
    """Name patterns accepted by ``eval.ood.datasets``."""
    return [DIGITS, "<dataset>-c", "<dataset>"]


def available_corruptions() -> list[str]:
    """Corruptions of a ``<dataset>-c`` suite."""
    return list(CORRUPTIONS)


def is_known_dataset(name: str) -> bool:
    """A dataset name: a built-in one, ``imagefolder:<path>`` or ``shards:<path>``."""
    return name in IN_DOMAIN or any(
        name.startswith(prefix) and len(name) > len(prefix) for prefix in (IMAGEFOLDER, SHARDS)
    )


def is_streamed(name: str) -> bool:
    """A packed dataset, streamed from its shards."""
    return name.startswith(SHARDS)


def suite_base(name: str) -> str | None:
    """The dataset whose corruption suite ``name`` is (``mnist5k-c`` -> ``mnist5k``)."""
    if name.endswith(SUITE_SUFFIX) and is_known_dataset(name[: -len(SUITE_SUFFIX)]):
        return name[: -len(SUITE_SUFFIX)]
    return None


def is_known_ood(name: str) -> bool:
    """``digits``, ``<dataset>-c`` (corruptions of a dataset's test split) or a dataset."""
    return name == DIGITS or is_known_dataset(name) or suite_base(name) is not None
