"""Dataset, OOD and corruption names, known without importing torch."""

from __future__ import annotations

import subprocess
import sys

from sslctl.data import (
    available_corruptions,
    available_datasets,
    is_known_dataset,
    is_known_ood,
)


def test_dataset_names() -> None:
    """Built-in names and imagefolder:<non-empty path> are datasets; others are not."""
    assert set(available_datasets()) >= {"mnist5k", "fashion-mnist", "cifar10", "cifar100"}
    assert is_known_dataset("stl10") and is_known_dataset("imagefolder:/data/x")
    assert not is_known_dataset("imagenet9") and not is_known_dataset("imagefolder:")
    assert not is_known_dataset("digits")


def test_ood_names() -> None:
    """digits, any dataset, and <dataset>-c suites are OOD sets; <unknown>-c is not."""
    assert is_known_ood("digits") and is_known_ood("mnist5k-c") and is_known_ood("cifar10-c")
    assert is_known_ood("fashion-mnist") and is_known_ood("imagefolder:/x-c")
    assert not is_known_ood("foo-c") and not is_known_ood("digits-c") and not is_known_ood("-c")
    assert "gaussian_noise" in available_corruptions()


def test_importing_the_package_does_not_import_torch() -> None:
    """The CLI and the recipe validator stay fast: `import sslctl.data` leaves torch alone,
    and the lazily re-exported loaders are still reachable."""
    code = (
        "import sys, sslctl.data as d; assert 'torch' not in sys.modules; "
        "d.is_known_ood('digits'); assert 'torch' not in sys.modules; "
        "assert callable(d.load_dataset) and callable(d.BatchAugment)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
