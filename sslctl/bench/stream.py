"""``sslctl bench --section data``: the streamed input pipeline against torchvision.

Both sides read the same synthetic JPEG ImageFolder (:mod:`sslctl.data.stream.synthetic`,
150-600 px) with the same number of DataLoader workers and produce, per image, two uint8
random resized crops (torchvision's ``RandomResizedCrop`` scale 0.08-1) of the output size:
torchvision's ``ImageFolder`` (one full decoding by PIL) + ``RandomResizedCrop`` +
``PILToTensor`` twice; the streamed path reads the packed shards, decodes each image once
and resizes both crops from it (:mod:`sslctl.data.stream.crops`). Each side is timed
``REPEATS`` times, alternating, and the median is reported with the range (single runs of
the same side differed by up to 2x on a shared 2-core machine). The streamed path is also
timed from a pack made with ``--max-side 256`` (other, smaller images: what that option
buys, not a like-for-like ratio). Then each side's milliseconds per image on one core
without a DataLoader (the decoders' own cost), and the peak memory of one pretraining
epoch on the packed set at 1x and 8x its size (the same files, repeated).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sslctl.bench.common import Figure

SIZES = (64, 96, 224)
BATCH = 32
REPEATS = 3
# the longer side of the second pack (FFCV's max_resolution idea: fewer pixels to decode,
# at the cost of resolution in small crops; a figure for what `--max-side` buys)
SMALL_SIDE = 256


def _workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _torchvision_views(size: int) -> Callable[[Any], Any]:
    """torchvision's two views of a PIL image: ``RandomResizedCrop`` + ``PILToTensor``
    twice, stacked (uint8 [2, 3, size, size])."""
    import torch
    from torchvision import transforms

    crop = transforms.Compose([transforms.RandomResizedCrop(size), transforms.PILToTensor()])
    return lambda image: torch.stack([crop(image), crop(image)])


def _torchvision_rate(folder: Path, size: int, workers: int) -> float:
    """Images per second of torchvision's ImageFolder pipeline, two crops per image."""
    import torch
    from torchvision import datasets

    dataset = datasets.ImageFolder(str(folder), transform=_torchvision_views(size))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=BATCH, shuffle=True, num_workers=workers, drop_last=True
    )
    start, n = time.perf_counter(), 0
    for images, _ in loader:
        n += len(images)
    return n / (time.perf_counter() - start)


def _stream_rate(packed: Path, size: int, workers: int) -> float:
    from sslctl.data.stream.feed import StreamFeeder

    feeder = StreamFeeder(packed / "train", seed=0, size=size, workers=workers)
    steps = len(feeder) // BATCH
    start, n = time.perf_counter(), 0
    for batch in feeder.batches(0, BATCH, 0, steps):
        n += len(batch["index"])
    return n / (time.perf_counter() - start)


def _one_core_ms(folder: Path, packed: Path, size: int, repeats: int) -> tuple[float, float]:
    """Milliseconds per image on one core without a DataLoader, medians of ``repeats``
    alternating passes: ours (read from the shards, decode once, two crops) and
    torchvision's (open + convert, two ``RandomResizedCrop`` + ``PILToTensor``). What the
    decoders cost, apart from how a DataLoader spreads them over the cores."""
    import torch
    from PIL import Image

    from sslctl.data.stream.feed import CropBatches, Reader

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    reader = Reader(packed / "train")
    ours = CropBatches(reader, seed=0, size=size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))
    views = _torchvision_views(size)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    n = min(len(files), int(reader.starts[-1]))

    def streamed() -> float:
        start = time.perf_counter()
        for i in range(n):
            ours.views(reader.get(i)["image"], 0, i)
        return (time.perf_counter() - start) / n * 1e3

    def torchvision() -> float:
        start = time.perf_counter()
        for path in files[:n]:
            with Image.open(path) as image:
                views(image.convert("RGB"))
        return (time.perf_counter() - start) / n * 1e3

    try:
        times = [(streamed(), torchvision()) for _ in range(repeats)]
    finally:
        torch.set_num_threads(threads)
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def _repeat_folder(source: Path, dest: Path, times: int) -> Path:
    """``dest`` with each file of ``source`` hard-linked ``times`` times (same images)."""
    for path in source.rglob("*.*"):
        folder = dest / path.parent.relative_to(source)
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(times):
            target = folder / f"r{k}-{path.name}"
            if not target.exists():
                os.link(path, target)
    return dest


PEAK_SCRIPT = """
import json, resource, sys, torch
from pathlib import Path
from sslctl.data.datasets import load_dataset
from sslctl.recipe.schema import Recipe
from sslctl.train import Pretrainer
torch.set_num_threads(1)
recipe = Recipe.model_validate({
    "data": {"name": "shards:" + sys.argv[1], "image_size": 64, "workers": int(sys.argv[2])},
    "model": {"backbone": "resnet-mini", "width": 16},
    "projector": {"depth": 2, "width": 128, "out_dim": 64},
    "optim": {"name": "sgd", "lr": 0.05, "batch_size": 32, "epochs": 1, "warmup_epochs": 0},
    "runtime": {"device": "cpu", "precision": "fp32", "channels_last": False}})
dataset = load_dataset(recipe.data.name, image_size=64)
trainer = Pretrainer(recipe, dataset, torch.device("cpu"), None, Path(sys.argv[3]))
trainer.fit()
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
anon_kb = int(status["RssAnon"].split()[0])
peaks = {"main": self_kb, "worker": workers_kb, "main anon": anon_kb}
print(json.dumps({key: kb / 1024 for key, kb in peaks.items()}))
"""


def _peak_rss(packed: Path, workers: int, tmp: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(packed), str(workers), str(tmp / "ckpt.pt")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def data_pipeline(quick: bool = False) -> list[Figure]:
    """Decode + crop img/s (streamed vs torchvision) and peak RSS at 1x vs 8x."""
    from sslctl.data.stream.pack import pack_imagefolder
    from sslctl.data.stream.synthetic import write_imagefolder

    workers = _workers()
    per_class = 12 if quick else 40
    figures = []
    with tempfile.TemporaryDirectory(prefix="sslctl-bench-data-") as name:
        tmp = Path(name)
        source = write_imagefolder(
            tmp / "src", classes=10, train_per_class=per_class, val_per_class=2
        )
        pack_imagefolder(source, tmp / "packed", workers=workers)
        big = _repeat_folder(source, tmp / "src8", 8)
        pack_imagefolder(big, tmp / "packed8", workers=workers)
        pack_imagefolder(big, tmp / "packed8-256", max_side=SMALL_SIDE, workers=workers)
        # rates over the 8x set (seconds per epoch, so worker start-up weighs little),
        # after one untimed epoch of each side on the 1x set (imports, page cache)
        _stream_rate(tmp / "packed", SIZES[0], workers)
        _torchvision_rate(source / "train", SIZES[0], workers)
        note = f"{80 * per_class} images (8 x {10 * per_class}) of 150-600 px, {workers} workers"
        repeats = 1 if quick else REPEATS
        for size in SIZES:
            ours, small, theirs = [], [], []
            for _ in range(repeats):  # alternating, so a slow spell hits every side
                ours.append(_stream_rate(tmp / "packed8", size, workers))
                small.append(_stream_rate(tmp / "packed8-256", size, workers))
                theirs.append(_torchvision_rate(big / "train", size, workers))
            ref = statistics.median(theirs)
            spread = f"; medians of {repeats} runs" if repeats > 1 else ""
            for label, rates in (("", ours), (f", from a --max-side {SMALL_SIDE} pack", small)):
                mine = statistics.median(rates)
                ranges = f", ranges {min(rates):.0f}-{max(rates):.0f} vs {min(theirs):.0f}-"
                figures.append(
                    Figure(
                        "data",
                        f"streamed decode + 2 crops, {size} px{label}",
                        mine,
                        "img/s",
                        f"{mine / ref:.2f}x torchvision ImageFolder on the original files "
                        f"({ref:.0f} img/s); {note}{spread}"
                        + (f"{ranges}{max(theirs):.0f}" if repeats > 1 else ""),
                    )
                )
        for size in SIZES:
            mine, ref = _one_core_ms(source / "train", tmp / "packed", size, repeats)
            figures.append(
                Figure(
                    "data",
                    f"decode + 2 crops per image on one core, {size} px",
                    mine,
                    "ms",
                    f"{ref / mine:.2f}x torchvision ({ref:.2f} ms); no DataLoader, the 1x set"
                    + (f", medians of {repeats} passes" if repeats > 1 else ""),
                )
            )
        peaks = [_peak_rss(tmp / p, workers, tmp) for p in ("packed", "packed8")]
        what = {
            "main": "peak RSS, main process",
            "worker": "peak RSS, largest worker",
            "main anon": "RSS at the end, main process, anonymous memory",
        }
        for key, label in what.items():
            one, eight = peaks[0][key], peaks[1][key]
            note = f"{eight / one - 1:+.1%} vs 1x ({one:.0f} MiB, {10 * per_class} images)"
            figures.append(Figure("data", f"{label}, 1 epoch at 8x", eight, "MiB", note))
    return figures
