"""The streamed part of ``make gpu-check`` (``benchmarks/gpu_stream.py``) runs on the CPU
with tiny sizes: the script that a GPU machine's scarce minutes go to fails here first
if it is broken, not there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[3] / "benchmarks"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gpu_stream_benchmark_runs_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "gpu_stream", raising=False)
    from gpu_stream import decode_compare, resnet50_feed

    feed = resnet50_feed("cpu", per_class=1, batch=4, steps=2)
    for key in ("loader_img_per_s_decoding_in_workers", "loader_img_per_s_decoding_on_device"):
        assert feed[key] > 0, feed
    assert feed["train_step_img_per_s_excluding_loader"] > 0
    decode = decode_compare("cpu", n=4, size=32)
    assert set(decode) == {
        "cpu_full_img_per_s",
        "cpu_scaled_img_per_s",
        "torchvision_decode_jpeg_cpu_img_per_s",
    }
