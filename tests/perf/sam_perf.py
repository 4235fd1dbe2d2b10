"""SAM adapter cost must grow with images, not boxes: with the vit_b architecture (random weights: timing does
not depend on them) on CPU, k boxes of one image decoded after ONE embedding (the adapter) against one embedding
per box, for k = 2 and 4 (target: at least 0.8 k times faster). Prints seconds per image and per box. Where a
GPU is available, also prints vit_h images/s on it (4 boxes per image, 20 images, after a warm-up).

Run: .venv/bin/python tests/perf/sam_perf.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from segment_anything import SamPredictor, sam_model_registry

from smner_bench.baselines.sam import BoxToMask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    adapter = BoxToMask(SamPredictor(sam_model_registry["vit_b"](checkpoint=None).eval()))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = [[40, 40, 200, 300], [300, 60, 600, 400], [100, 250, 260, 470], [420, 10, 630, 200]]
    adapter.masks(image, boxes[:1])  # warm-up
    for k in (1, 2, 4):
        start = time.perf_counter()
        adapter.masks(image, boxes[:k])
        batched = time.perf_counter() - start
        if k == 1:
            single = batched
            print(f"one image, one box: {single:.2f} s (embedding + one decode)")
            continue
        per_box = k * single  # one embedding per box, as a naive adapter would do
        start = time.perf_counter()
        for box in boxes[:k]:
            adapter.masks(image, [box])
        measured = time.perf_counter() - start
        print(
            f"k={k}: adapter {batched:.2f} s per image ({batched / k:.2f} s per box); one embedding per box "
            f"{measured:.2f} s -> {measured / batched:.2f}x faster (target >= {0.8 * k:.1f}x; k x single = "
            f"{per_box:.2f} s)"
        )


def vit_h_on_gpu(images: int = 20) -> None:
    if not torch.cuda.is_available():
        print("vit_h on GPU: no GPU on this machine")
        return
    adapter = BoxToMask(SamPredictor(sam_model_registry["vit_h"](checkpoint=None).to("cuda").eval()))
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    boxes = [[40, 40, 200, 300], [300, 60, 600, 400], [100, 250, 260, 470], [420, 10, 630, 200]]
    adapter.masks(image, boxes)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(images):
        adapter.masks(image, boxes)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"vit_h on {torch.cuda.get_device_name()}: {images / seconds:.2f} images/s (4 boxes each)")


if __name__ == "__main__":
    main()
    vit_h_on_gpu()
