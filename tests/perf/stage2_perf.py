"""VE and VG cost must grow with images, not with entities. Base-size architectures with random weights
(timing does not depend on them) on CPU: BLIP ITM (ViT-B/16 at 384 px + BERT-base) and Grounding DINO
(Swin-T + BERT-base, images resized to 480 px), k entities of one image judged / grounded in ONE image pass
(what the pipeline does) against one full forward per entity, for k = 1, 2, 4. Prints seconds per image and
per entity and the speed-up (no fixed target in the issue; SAM's is 0.8 k, in sam_perf.py).

Run: .venv/bin/python tests/perf/stage2_perf.py [--threads 2] [--runs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from smner_bench.baselines.tiny import bert_tokenizer
from smner_bench.baselines.ve import ImageTextMatcher
from smner_bench.baselines.vg import Grounder

PHRASES = ["Kevin Durant (PER)", "Golden State Warriors (ORG)", "Oracle Arena (LOC)", "NBA Finals (OTHER)"]


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, runs: int, batched, single) -> None:
    for k in (1, 2, 4):
        ours = best_of(runs, lambda k=k: batched(PHRASES[:k]))
        naive = best_of(runs, lambda k=k: [single(p) for p in PHRASES[:k]])
        print(
            f"{name} k={k}: one image pass {ours:.2f} s per image ({ours / k:.2f} s per entity); one forward per "
            f"entity {naive:.2f} s -> {naive / ours:.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from transformers import (
        BlipConfig,
        BlipForImageTextRetrieval,
        BlipImageProcessor,
        BlipProcessor,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = bert_tokenizer(tmp, " ".join(PHRASES).split())
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))

    blip = BlipForImageTextRetrieval(BlipConfig())
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 384, "width": 384}), tokenizer=tokenizer
    )
    matcher = ImageTextMatcher(None, model=blip, processor=processor)
    matcher.scores(image, PHRASES[:1])  # warm-up
    report("VE (BLIP ITM)", args.runs, lambda ps: matcher.scores(image, ps), lambda p: matcher.scores(image, [p]))

    dino = GroundingDinoForObjectDetection(GroundingDinoConfig())
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 480, "longest_edge": 640}),
        tokenizer=tokenizer,
    )
    grounder = Grounder(None, model=dino, processor=processor)
    grounder.ground(image, PHRASES[:1])  # warm-up
    report(
        "VG (Grounding DINO)", args.runs, lambda ps: grounder.ground(image, ps), lambda p: grounder.ground(image, [p])
    )


if __name__ == "__main__":
    main()
