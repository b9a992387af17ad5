"""Studies: small, exact experiments that reproduce a claim of the papers and print a table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch with one intra-op thread inside (restored after); usable as a decorator.

    The studies' full-batch steps are small (a 2,000 x 256 covariance, 256 x 256 logits):
    a second thread buys little on an idle machine, and on a loaded one OpenMP threads
    that spin while waiting for a descheduled partner cost far more. Measured on the
    2-core machine at load ~17 (ICA study, 100 steps): 306 ms/step wall and 25 ms CPU with
    one thread, 1,834 ms/step wall and 231 ms CPU with two.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
