"""The method tests work on tiny matrices: one intra-op thread is faster than several and
immune to contention from other processes (OpenMP threads spinning on a busy machine can
make a 128 x 128 matmul 100 times slower)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
