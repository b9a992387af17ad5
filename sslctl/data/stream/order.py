"""The sample order of an epoch: a function of (seed, epoch) and the shard layout only.

A block shuffle in the manner of mosaicml-streaming's ``py1b``: the chunks are put in a
random order, then the samples inside each window of ``window`` consecutive positions are
shuffled. With ``window >= N`` it is a uniformly random permutation; smaller windows keep
each batch's reads within a few chunks. The global batch ``s`` is
``order[s*B:(s+1)*B]``; rank ``r`` of ``R`` takes the ``r``-th contiguous ``B/R`` of it and
a DataLoader worker decodes whole local batches. So the batches, and therefore each
sample's use, depend neither on the number of ranks nor of workers; every sample of the
first ``steps * B`` positions is used exactly once per epoch (the last ``N mod B`` are
dropped, as ``drop_last``), and resuming at step ``s`` is slicing, not replaying.
"""

from __future__ import annotations

import numpy as np

ORDER_SALT = 0x5EED0  # distinguishes the order's random stream from the crops'
DEFAULT_WINDOW = 1 << 16


def epoch_order(
    seed: int, epoch: int, chunk_sizes: list[int], window: int = DEFAULT_WINDOW
) -> np.ndarray:
    """The global positions -> sample indices of ``epoch`` (int64, a permutation)."""
    rng = np.random.default_rng([seed, epoch, ORDER_SALT])
    starts = np.concatenate([[0], np.cumsum(chunk_sizes)[:-1]]).astype(np.int64)
    chunks = rng.permutation(len(chunk_sizes))
    order = np.concatenate(
        [np.arange(starts[c], starts[c] + chunk_sizes[c], dtype=np.int64) for c in chunks]
        or [np.zeros(0, np.int64)]
    )
    for begin in range(0, len(order), window):
        order[begin : begin + window] = rng.permutation(order[begin : begin + window])
    return order


def local_batch(
    order: np.ndarray, step: int, batch_size: int, rank: int = 0, world: int = 1
) -> np.ndarray:
    """Rank ``rank``'s share of global batch ``step`` (``batch_size`` a multiple of
    ``world``)."""
    per_rank = batch_size // world
    begin = step * batch_size + rank * per_rank
    return order[begin : begin + per_rank]
