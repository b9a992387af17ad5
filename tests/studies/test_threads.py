"""The studies run torch with one intra-op thread and give the caller's setting back."""

from __future__ import annotations

import torch

from sslctl.studies import one_thread


def test_one_thread_inside_and_restored_after() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2

        @one_thread()
        def inside() -> int:
            return torch.get_num_threads()

        assert inside() == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
