"""The epoch order: a permutation that is a function of (seed, epoch) alone, split into
ranks' batches that cover each sample once."""

from __future__ import annotations

import numpy as np
import pytest

from sslctl.data.stream.order import epoch_order, local_batch

SIZES = [7, 5, 9, 3, 8]


@pytest.mark.parametrize("window", [4, 10, 1 << 16])
def test_order_is_a_permutation_fixed_by_seed_and_epoch(window: int) -> None:
    order = epoch_order(3, 1, SIZES, window)
    assert sorted(order.tolist()) == list(range(sum(SIZES)))
    assert np.array_equal(order, epoch_order(3, 1, SIZES, window))
    assert not np.array_equal(order, epoch_order(3, 2, SIZES, window))
    assert not np.array_equal(order, epoch_order(4, 1, SIZES, window))


def test_small_windows_keep_reads_within_few_chunks() -> None:
    sizes = [10] * 20
    order = epoch_order(0, 0, sizes, window=20)
    chunks_per_window = [len(set((order[i : i + 20] // 10).tolist())) for i in range(0, 200, 20)]
    assert max(chunks_per_window) == 2


@pytest.mark.parametrize("world", [1, 2, 4])
def test_rank_batches_partition_the_first_steps_times_batch_positions(world: int) -> None:
    order = epoch_order(0, 0, SIZES, 8)
    batch, steps = 8, sum(SIZES) // 8
    used = np.concatenate(
        [local_batch(order, s, batch, r, world) for s in range(steps) for r in range(world)]
    )
    assert np.array_equal(used, order[: steps * batch])  # every position once, in order
