"""The streamed input pipeline on a GPU (issue 15), run by ``benchmarks/gpu_check.py``.

- ``resnet50_feed``: img/s of the streamed path (litdata shards -> DataLoader workers
  decoding two RandomResizedCrops per image at a reduced DCT scale, or with ``data.decode:
  device`` the workers send the bytes and nvJPEG decodes on the GPU -> batched
  augmentation on the device), each alone, then the faster one feeding a ResNet-50 +
  8192-8192-8192 projector VICReg step at 224 px under bf16 (is training input-bound?).
- ``decode_compare``: CPU (libjpeg-turbo, full and DCT-scaled decoding) vs GPU
  (``torchvision.io.decode_jpeg(device="cuda")``, nvJPEG) decoding of the same JPEG bytes,
  each followed by one 224-px resized crop, img/s.

Source images: a synthetic JPEG ImageFolder of 300-500 px (ImageNet-like sizes), written
to a temporary folder and packed. Both functions also run with ``device="cpu"`` (a smoke
test on machines without a GPU).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from sslctl.data.augment import BatchAugment
from sslctl.data.stream.feed import StreamFeeder, step_seed
from sslctl.data.stream.pack import pack_imagefolder
from sslctl.data.stream.synthetic import write_imagefolder
from sslctl.methods import build_loss
from sslctl.models.backbones import build_backbone
from sslctl.models.projector import build_projector

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _packed(root: Path, per_class: int) -> Path:
    source = write_imagefolder(
        root / "src",
        classes=10,
        train_per_class=per_class,
        val_per_class=1,
        min_side=300,
        max_side=500,
    )
    pack_imagefolder(source, root / "packed", workers=max(1, (os.cpu_count() or 2) - 1))
    return root / "packed"


def resnet50_feed(
    device: str = "cuda", per_class: int = 100, batch: int = 128, steps: int = 6
) -> dict:
    """img/s of the streamed loader alone and feeding a ResNet-50 VICReg step."""
    dev = torch.device(device)
    workers = min(16, len(os.sched_getaffinity(0)))
    dtype = torch.bfloat16 if dev.type == "cuda" else None
    with tempfile.TemporaryDirectory() as tmp:
        packed = _packed(Path(tmp), per_class)
        rates, feeders = {}, {}
        for decode in ("workers", "device"):
            feeders[decode] = feeder = StreamFeeder(
                packed / "train",
                seed=0,
                size=224,
                workers=workers,
                device=dev,
                decode_on_device=decode == "device",
            )
            steps = min(steps, len(feeder) // batch)
            start = time.perf_counter()
            for _ in feeder.batches(0, batch, 0, steps):
                pass
            if dev.type == "cuda":
                torch.cuda.synchronize()
            rates[decode] = steps * batch / (time.perf_counter() - start)
        fastest = max(rates, key=rates.__getitem__)
        loader_rate, feeder = rates[fastest], feeders[fastest]

        backbone, dim = build_backbone("resnet50", in_channels=3, cifar_stem=False)
        projector, _ = build_projector(dim, depth=3, width=8192, out_dim=8192)
        model = torch.nn.Sequential(backbone, projector).to(dev, memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = build_loss("vicreg")
        generator = torch.Generator(dev)
        augment = BatchAugment(
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            out_size=224,
            crop_scale=(1.0, 1.0),
            crop_ratio=(1.0, 1.0),
            flip=0.5,
            jitter=0.8,
            saturation=0.2,
            hue=0.1,
            grayscale=0.2,
            blur=0.5,
            solarize=0.1,
            generator=generator,
        )
        timings = []
        for step, b in enumerate(feeder.batches(1, batch, 0, steps)):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            begin = time.perf_counter()
            generator.manual_seed(step_seed(0, 1, step, 0))
            v1, v2 = (
                augment(b["views"][:, k]).contiguous(memory_format=torch.channels_last)
                for k in (0, 1)
            )
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                loss = loss_fn(model(v1).float(), model(v2).float())["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - begin)
        # the first step includes cudnn autotuning; the rest is the steady state
        compute = sorted(timings[1:] or timings)[len(timings[1:] or timings) // 2]
    return {
        "workers": workers,
        "batch": batch,
        "loader_img_per_s_decoding_in_workers": rates["workers"],
        "loader_img_per_s_decoding_on_device": rates["device"],
        "training_fed_by": f"decoding in {fastest}",
        "train_step_img_per_s_excluding_loader": batch / compute,
        "input_bound": loader_rate < batch / compute,
    }


def decode_compare(device: str = "cuda", n: int = 256, size: int = 224) -> dict:
    """img/s of decoding + one resized crop: libjpeg-turbo (full, scaled) vs torchvision on
    ``device``."""
    import io

    import numpy as np
    from PIL import Image
    from torchvision.io import decode_jpeg
    from torchvision.transforms.v2 import functional as TF

    from sslctl.data.stream import crops
    from sslctl.data.stream.synthetic import synthetic_image

    rng = np.random.default_rng(0)
    blobs = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(300, 501, 2))
        out = io.BytesIO()
        Image.fromarray(synthetic_image(i % 10, 10, h, w, rng)).save(out, "JPEG", quality=90)
        blobs.append(out.getvalue())
    boxes = [crops.rrc_box(rng, *crops.image_size(b)) for b in blobs]
    result = {}
    for name, draft in (("cpu_full", False), ("cpu_scaled", True)):
        start = time.perf_counter()
        for data, box in zip(blobs, boxes, strict=True):
            crops.decode_crop(data, box, size, draft)
        result[f"{name}_img_per_s"] = n / (time.perf_counter() - start)
    tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    dev = torch.device(device)

    def gpu_pass() -> None:
        images = decode_jpeg(tensors, device=dev)
        for image, (top, left, h, w) in zip(images, boxes, strict=True):
            TF.resized_crop(image, top, left, h, w, [size, size], antialias=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    gpu_pass()  # warm-up (nvJPEG handles, kernels)
    start = time.perf_counter()
    gpu_pass()
    result[f"torchvision_decode_jpeg_{dev.type}_img_per_s"] = n / (time.perf_counter() - start)
    return result


def stream_check(device: str = "cuda") -> dict:
    """Both figures, printed as they come."""
    out = {"resnet50_224": resnet50_feed(device), "decode": decode_compare(device)}
    print("stream", out, flush=True)
    return out
