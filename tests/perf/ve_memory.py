"""Peak memory of VE training with streamed images (issue 12): images are decoded by DataLoader workers through a
bounded cache, never a whole split in memory.

Data: ``--images`` synthetic JPEGs (default 2,000), their sizes drawn (fixed seed) from the VOC ``<size>`` fields
of the real Twitter-GMNER release (``$SMNER_BENCH_DATA/twitter-gmner/v2.0/xml``, default ``../shared/data``), two
entities per image (the release has about 1.5 entities per tweet).
Model: a tiny BLIP ITM (``baselines/tiny.py``) with the real BLIP processor size (384 x 384), so the time goes to
decoding and preprocessing, and the memory figure is the images' (the model's own is printed apart; a real
BLIP-base's training state, weights + gradients + AdamW moments in fp32, is computed from ``BlipConfig()`` on the
meta device).

Each setting trains ``--epochs`` epochs in its own process; the parent samples the proportional set size (PSS:
resident memory, pages shared between the process and its forked DataLoader workers counted once) of that
process and all its children every 50 ms with psutil and prints the peak against the PSS after the model is
loaded:
  streamed   --workers 2, --image-cache-mb 256 (the defaults of ``baseline ve-train``)
  in-memory  every decoded image kept (the loop before issue 12: a dict of the split's images)

Run: .venv/bin/python tests/perf/ve_memory.py [--images 2000] [--epochs 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from release_sizes import GMNER_XML, release_sizes

SETTINGS = {"streamed": {"workers": 2, "cache_mb": 256}, "in-memory": {"workers": 0, "cache_mb": 10**7}}


def real_sizes(n: int, seed: int) -> list[tuple[int, int]]:
    sizes = release_sizes()
    if not sizes:
        sys.exit(f"no VOC <size> fields under {GMNER_XML} (set SMNER_BENCH_DATA)")
    rng = random.Random(seed)
    return [rng.choice(sizes) for _ in range(n)]


def make_images(folder: Path, n: int, seed: int) -> list[tuple[int, int]]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sizes = real_sizes(n, seed)
    rng = np.random.default_rng(seed)
    for k, (w, h) in enumerate(sizes):
        path = folder / f"{k}.jpg"
        if not path.exists():
            small = Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8))
            small.resize((w, h), Image.BILINEAR).save(path, quality=85)
    return sizes


def child(work: Path, setting: str, epochs: int, n: int) -> None:
    """One training run; prints its PSS after loading (the parent samples the peak)."""
    import psutil
    import torch

    from smner_bench.baselines import tiny
    from smner_bench.baselines.ve import VeConfig, VEItem, train_matcher

    torch.set_num_threads(1)
    base = work / "matcher"
    if not base.exists():
        tiny.save_image_text_matcher(base, ["tweet", "entity"], image_size=384)  # the real BLIP processor's size
    rng = random.Random(0)
    train = [VEItem(f"{k}.jpg", f"entity {j} (PER)", rng.randint(0, 1)) for k in range(n) for j in range(2)]
    dev = train[:100]
    params = sum(
        p.numel() for p in __import__("transformers").BlipForImageTextRetrieval.from_pretrained(base).parameters()
    )
    print(json.dumps({"loaded_rss": psutil.Process().memory_full_info().pss, "tiny_params": params}), flush=True)
    s = SETTINGS[setting]
    out = work / f"out-{setting}"
    started = time.time()
    config = VeConfig(base=str(base), data_dir=str(work), images=str(work / "images"), out=str(out), epochs=epochs,
                      batch=8, workers=s["workers"], image_cache_mb=s["cache_mb"])  # fmt: skip
    train_matcher(config, train, dev, progress=False)
    print(json.dumps({"seconds": round(time.time() - started, 1)}), flush=True)


def measure(work: Path, setting: str, epochs: int, n: int) -> dict:
    import psutil

    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            setting,
            "--work",
            str(work),
            "--epochs",
            str(epochs),
            "--images",
            str(n),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"},
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        p = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [p, *p.children(recursive=True)]  # PSS: pages shared with forked workers counted once
                rss = sum(q.memory_full_info().pss for q in procs)
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    lines = [json.loads(line) for line in proc.stdout if line.startswith("{")]
    proc.wait()
    done.set()
    thread.join()
    if proc.returncode:
        sys.exit(f"{setting}: the training process failed (exit {proc.returncode})")
    found = {k: v for line in lines for k, v in line.items()}
    return {**found, "peak_rss": peak[0]}


def blip_base_training_state() -> int:
    import torch
    from transformers import BlipConfig, BlipForImageTextRetrieval

    with torch.device("meta"):
        model = BlipForImageTextRetrieval(BlipConfig())
    return 16 * sum(p.numel() for p in model.parameters())  # fp32 weights + gradients + two AdamW moments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--keep", help="a folder to keep the images and runs in (default: a temporary one)")
    ap.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(Path(args.work), args.child, args.epochs, args.images)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        sizes = make_images(work / "images", args.images, seed=0)
        decoded = sum(3 * w * h for w, h in sizes)
        gib = 2**30
        print(
            f"{len(sizes)} images at real Twitter-GMNER sizes; decoded RGB pixels of the split: {decoded / gib:.2f} GiB"
        )
        print(f"BLIP-base training state (fp32 weights, gradients, AdamW): {blip_base_training_state() / gib:.2f} GiB")
        for setting in SETTINGS:
            r = measure(work, setting, args.epochs, args.images)
            extra = r["peak_rss"] - r["loaded_rss"]
            print(
                f"{setting:>9}: PSS after loading {r['loaded_rss'] / gib:.2f} GiB, peak {r['peak_rss'] / gib:.2f} GiB "
                f"(process + workers), +{extra / gib:.2f} GiB in training = {extra / decoded:.2f} x the decoded split; "
                f"{r['seconds']} s for {args.epochs} epochs (tiny model: {r['tiny_params']} parameters)"
            )


if __name__ == "__main__":
    main()
