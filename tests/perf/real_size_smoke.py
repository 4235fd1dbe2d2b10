"""Real-size smoke benchmark of the RiVEG runner: the real default architectures with random weights (timing and
memory do not depend on the weights), saved as real checkpoints and run through ``smner-bench run riveg``'s runner
on synthetic tweets whose images have the sizes of real Twitter-GMNER images.

Models (built from their default configs, random weights, saved to a temporary folder):
  PLIM  BERT-base (``BertConfig()``) + CRF; its CRF transitions are set so that every tweet gets ``--entities``
        entities (the first words, one per type), as a trained tagger would find some: Twitter-GMNER has about 1.5
        entities per tweet
  VE    BLIP ITM base (``BlipForImageTextRetrieval(BlipConfig())``), processor at 384 x 384; threshold 0 in the
        run file, so every entity goes on to VG and SAM (the most expensive case)
  VG    Grounding DINO tiny (``GroundingDinoConfig()``: Swin-T + BERT-base), processor at shortest/longest edge
        800/1333
  SAM   vit_b (``segment_anything.sam_model_registry["vit_b"]()``, 1024 px)
Tokenizers: the word-level BERT vocabulary of ``baselines/tiny.py`` (no hub). Captions are replayed (the captioner
is not benchmarked); no knowledge or expansion stage (they are LLM calls).

Data: the synthetic sample's train/dev splits and a test split of ``--tweets`` tweets (texts of the sample's
tweets), one synthetic JPEG each, its size drawn (fixed seed) from the VOC ``<size>`` fields of
``../shared/data/twitter-gmner/v2.0/xml/*.xml``.

Each stage runs in its own subprocess through ``runner.run`` (earlier stages cached, the next one stopped), so the
figures are per stage: wall seconds per tweet (model loading included, and apart) and the peak RSS of the process
(``resource.getrusage``; on CUDA also ``torch.cuda.max_memory_allocated``). A last ``smner-bench run riveg`` call
checks that everything is cached and the submission is written.

Run: .venv/bin/python tests/perf/real_size_smoke.py [--tweets 20] [--device cpu|cuda] [--dtype fp32|bf16]
     [--threads 2] [--entities 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from release_sizes import GMNER_XML, release_sizes

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("captions", "mner", "ve", "vg", "sam")
TYPES_CHAIN = ("PER", "LOC", "ORG", "OTHER")


class StopRun(BaseException):
    """Raised by the stage after the measured one (like a crash: the measured stage's output is kept)."""


def real_sizes(n: int, seed: int) -> list[tuple[int, int]]:
    sizes = release_sizes()
    if not sizes:
        sys.exit(f"no VOC <size> fields under {GMNER_XML}")
    return random.Random(seed).sample(sizes, n)


def make_data(work: Path, n: int, seed: int) -> tuple[Path, Path, list[str], list[tuple[int, int]]]:
    """The sample's train/dev, a test split of n tweets, images at real sizes; returns data, images, words, sizes."""
    import numpy as np
    from PIL import Image, ImageDraw

    from smner_bench.loaders import read_conll
    from smner_bench.loaders.sample import write_sample

    data = work / "data"
    write_sample(data, seed=0)
    tweets = [t for name in ("train.txt", "dev.txt", "test.txt") for t in read_conll(data / name)]
    images = work / "images"
    images.mkdir()
    sizes = real_sizes(n, seed)
    rng = np.random.default_rng(seed)
    lines = []
    for i, (w, h) in enumerate(sizes):
        tid = f"p{i + 1:04d}"
        tokens = tweets[i % len(tweets)].tokens
        lines.append(f"IMGID:{tid}\n" + "".join(f"{tok}\tO\n" for tok in tokens) + "\n")
        image = Image.fromarray(rng.integers(150, 255, (h, w, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            draw.rectangle([x0, y0, x0 + w // 3, y0 + h // 3], fill=tuple(int(c) for c in rng.integers(0, 150, 3)))
        image.save(images / f"{tid}.jpg", quality=90)
    (data / "test.txt").write_text("".join(lines), encoding="utf-8")
    (work / "captions.txt").write_text("".join(f"p{i + 1:04d}.jpg :a photo\n" for i in range(n)), encoding="utf-8")
    words = sorted({tok for t in tweets for tok in t.tokens})
    return data, images, words, sizes


def save_models(work: Path, words: list[str], data: Path, entities: int) -> dict[str, Path]:
    import torch
    from segment_anything import sam_model_registry
    from transformers import (
        BertConfig,
        BertModel,
        BlipConfig,
        BlipForImageTextRetrieval,
        BlipImageProcessor,
        BlipProcessor,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    from smner_bench.baselines.plim.config import PlimConfig
    from smner_bench.baselines.plim.model import PlimTagger
    from smner_bench.baselines.plim.train import save_checkpoint
    from smner_bench.baselines.tiny import bert_tokenizer
    from smner_bench.benchmark.tags import TAG_NAMES

    torch.manual_seed(0)
    models = work / "models"
    models.mkdir()
    paths = {}

    # PLIM: BERT-base + CRF whose transitions give `entities` one-word entities at the start of each tweet
    tokenizer = bert_tokenizer(models / "bert-tok", words)
    tagger = PlimTagger(BertModel(BertConfig(), add_pooling_layer=False))
    with torch.no_grad():
        tagger.classifier.weight.zero_()
        tagger.classifier.bias.zero_()
        tid = {t: i for i, t in enumerate(TAG_NAMES)}
        chain = [tid[f"B-{t}"] for t in TYPES_CHAIN[:entities]] + [tid["O"]]
        tagger.crf.transitions.fill_(-1e4)
        tagger.crf.start_transitions.fill_(-1e4)
        tagger.crf.end_transitions.fill_(0.0)
        tagger.crf.start_transitions[chain[0]] = 0.0
        for a, b in itertools.pairwise(chain):
            tagger.crf.transitions[a, b] = 0.0
        tagger.crf.transitions[tid["O"], tid["O"]] = 0.0
    paths["plim"] = models / "plim" / "best"
    paths["plim"].parent.mkdir()
    cfg = PlimConfig(encoder=str(models / "bert-tok"), data_dir=str(data), out=str(models / "plim"))
    save_checkpoint(tagger, tokenizer, cfg, paths["plim"], {"epoch": 0, "note": "random weights (smoke benchmark)"})
    del tagger

    # VE: BLIP ITM base at 384 px
    paths["ve"] = models / "ve"
    BlipForImageTextRetrieval(BlipConfig()).save_pretrained(paths["ve"])
    BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 384, "width": 384}), tokenizer=tokenizer
    ).save_pretrained(paths["ve"])

    # VG: Grounding DINO tiny, 800/1333
    paths["vg"] = models / "vg"
    GroundingDinoForObjectDetection(GroundingDinoConfig()).save_pretrained(paths["vg"])
    GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 800, "longest_edge": 1333}),
        tokenizer=tokenizer,
    ).save_pretrained(paths["vg"])

    # SAM vit_b, random init, as a checkpoint file
    paths["sam"] = models / "sam_vit_b.pth"
    torch.save(sam_model_registry["vit_b"]().state_dict(), paths["sam"])
    return paths


def write_run_file(work: Path, data: Path, images: Path, paths: dict, device: str, dtype: str) -> Path:
    import yaml

    run = {
        "dataset": "smner",
        "data_dir": str(data),
        "split": "test",
        "images": str(images),
        "out": str(work / "run"),
        "device": device,
        "dtype": dtype,
        "captions": {"captioner": f"replay:{work / 'captions.txt'}"},
        "plim": {"checkpoint": str(paths["plim"])},
        "ve": {"checkpoint": str(paths["ve"]), "threshold": 0.0},
        "vg": {"checkpoint": str(paths["vg"])},
        "sam": {"checkpoint": str(paths["sam"]), "model_type": "vit_b"},
    }
    path = work / "run.yaml"
    path.write_text(yaml.safe_dump(run), encoding="utf-8")
    return path


def child(config: str, stage: str, result: str, threads: int) -> None:
    """Run the chain up to ``stage`` (earlier stages cached), time it, stop before the next one."""
    import torch

    from smner_bench.baselines import runner
    from smner_bench.baselines.run_config import load_run_config

    torch.set_num_threads(threads)
    cfg = load_run_config(config)
    timing: dict = {}
    names = [s.name for s in runner.STAGES]

    def measured(fn):
        def run(ctx, inputs):
            start = time.perf_counter()
            out = fn(ctx, inputs)
            timing["seconds"] = time.perf_counter() - start
            timing["tweets"] = len(ctx.rows)
            timing["entities"] = sum(len(line.get("entities", [])) for line in out)
            return out

        return run

    def stop(ctx, inputs):
        raise StopRun

    stages = []
    for s in runner.STAGES:
        fn = s.run
        if s.name == stage:
            fn = measured(s.run)
        elif s.name in names[names.index(stage) + 1 :]:
            fn = stop
        stages.append(runner.Stage(s.name, s.output, s.inputs, s.models, fn, s.optional))
    runner.STAGES = tuple(stages)
    try:
        status = runner.run(cfg, progress=False, config_file=config)
    except StopRun:
        status = None
    timing["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available() and cfg.device.startswith("cuda"):
        timing["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    timing["status"] = status
    Path(result).write_text(json.dumps(timing))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tweets", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--entities", type=int, choices=range(1, 5), default=2, help="entities per tweet (PLIM)")
    ap.add_argument("--seed", type=int, default=0, help="which real image sizes are drawn")
    ap.add_argument("--keep", help="build in this (new) folder and keep it")
    ap.add_argument("--child", nargs=3, metavar=("CONFIG", "STAGE", "RESULT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child, args.threads)
        return
    if not 1 <= args.tweets <= 500:
        sys.exit("--tweets: 1..500")
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="smner-smoke-")
    work = Path(args.keep or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data, images, words, sizes = make_data(work, args.tweets, args.seed)
    paths = save_models(work, words, data, args.entities)
    config = write_run_file(work, data, images, paths, args.device, args.dtype)
    mp = sum(w * h for w, h in sizes) / len(sizes) / 1e6
    print(f"{args.tweets} tweets, image sizes from {GMNER_XML} (seed {args.seed}): mean {mp:.2f} MP, "
          f"e.g. {', '.join(f'{w}x{h}' for w, h in sizes[:5])}")  # fmt: skip
    print(f"models built and saved in {time.perf_counter() - start:.0f} s; device {args.device}, dtype {args.dtype}, "
          f"{args.threads} threads")  # fmt: skip
    print(f"{'stage':<9} {'s/tweet':>8} {'stage s':>8} {'process s':>9} {'peak RSS MB':>11} {'entities':>8}")
    rows = {}
    for stage in STAGES:
        result = work / f"{stage}.json"
        begun = time.perf_counter()
        cmd = [sys.executable, __file__, "--threads", str(args.threads), "--child", str(config), stage, str(result)]
        subprocess.run(cmd, check=True, cwd=work, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        wall = time.perf_counter() - begun
        r = json.loads(result.read_text())
        rows[stage] = {**r, "process_seconds": wall}
        if "seconds" not in r:
            sys.exit(f"{stage}: the stage did not run (cached?): {r}")
        cuda = f" cuda {r['cuda_peak_mb']:.0f} MB" if "cuda_peak_mb" in r else ""
        print(f"{stage:<9} {r['seconds'] / r['tweets']:>8.2f} {r['seconds']:>8.1f} {wall:>9.1f} {r['rss_mb']:>11.0f} "
              f"{r['entities']:>8}{cuda}", flush=True)  # fmt: skip
    # the command itself: everything cached, the submission written
    out = subprocess.run(
        [str(Path(sys.executable).parent / "smner-bench"), "run", "riveg", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=work,
    )
    if out.returncode != 0:
        sys.exit(f"smner-bench run riveg failed ({out.returncode}): {out.stderr[-2000:]}")
    final = work / "run" / "smner.jsonl"
    n = len(final.read_text().splitlines()) if final.is_file() else 0
    print(f"smner-bench run riveg: {out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ''} "
          f"({n} lines in {final.name})")  # fmt: skip
    total = sum(r["seconds"] for r in rows.values())
    print(f"stages total {total:.1f} s ({total / args.tweets:.2f} s per tweet); whole script "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
