"""GPU figures of the baselines (issue 12), prepared to run in one command on a lent GPU machine (one H200), and
runnable on a CPU with ``--device cpu --quick`` (tiny models, a few steps) to check that it works.

Every model has the real default architecture with RANDOM weights, built from its config: timing and memory do
not depend on the weights (no checkpoint download; the machine reaches no network). Tokenizers: the word-level
BERT vocabulary of ``baselines/tiny.py`` (every synthetic word is one word piece).

What is measured (one JSON object per figure on stdout, then a readable table):
  plim_train  PLIM training throughput, tokens/s (non-padding word pieces of the timed batches / wall seconds)
              with mixed precision ``no`` (fp32) and ``bf16``: BERT-base (``BertConfig()``) + PlimTagger's CRF,
              batches of 16 synthetic tweets (~40 word pieces + ~200 knowledge word pieces, cut at max_length
              256) through the project's own loop: ``make_accelerator(device, mixed_precision)``,
              ``fit(accelerator, Objective(model, plim_loss), AdamW, ...)`` with ``PlimCollate`` and
              ``bucketed_batches``, PlimConfig's defaults (lr, CRF lr, word dropout, clipping). The first
              ``--train-warmup`` steps are not timed (step boundaries are taken at each batch's collation: fit
              reads each step's loss, which waits for the GPU). On CUDA also ``torch.cuda.max_memory_allocated``.
  ve_infer    VE inference images/s and expressions/s: BLIP ITM base (``BlipForImageTextRetrieval(BlipConfig())``),
              processor at 384 x 384, 2 expressions per image, ``ImageTextMatcher.scores`` per image (one vision
              pass per image, as the runner calls it), fp32 and bf16 weights (what ``dtype`` loads).
  vg_infer    VG inference images/s: Grounding DINO tiny (``GroundingDinoConfig()``: Swin-T + BERT-base),
              processor at shortest/longest edge 800/1333, 2 phrases per image, ``Grounder.ground`` per image,
              fp32 and bf16 weights.
  sam_infer   SAM images/s: segment-anything ``vit_b`` (random weights saved and loaded by ``load_predictor``),
              1024 px, 2 boxes per image through ``BoxToMask.masks`` (COCO RLE of the image's size included),
              fp32 and bf16 (autocast; SAM's weights stay fp32).
Each inference figure also gives, on CUDA, the weights' memory and the peak (``max_memory_allocated``, weights
included); preprocessing (resizing, tokenizing) is part of the time, JPEG decoding is not (images are in memory).
Images: synthetic, at the sizes of a fixed-seed sample of real Twitter-GMNER v2.0 images (``SIZES`` below: 64
VOC ``<size>`` fields of ``../shared/data/twitter-gmner/v2.0/xml`` drawn with ``random.Random(0).sample``;
embedded because that folder does not travel to the GPU machine, and checked against it when it is there).

Budget: model building counts. Each section prints its elapsed time; once ``--budget-seconds`` (default 420) have
passed, the remaining sections are skipped with a note. A section that fails is printed with its error and the
next one runs; the exit code is 1 if any failed, else 0 (skipped sections are listed at the end). With the
environment variable ``OUT`` set, every figure is also written to ``$OUT/gpu_check.json``. In every figure,
``per_image``/``texts_per_s`` count expressions (VE), phrases (VG) or boxes (SAM).

Run on the GPU machine (repository root; ~3 minutes on one H200, well under the 8-minute limit):
    bash tests/perf/gpu_check.sh
  The wrapper runs ``.venv/bin/python`` where there is one, else ``python3``, with ``--device cuda``. Packages that
  the GPU image lacks travel as wheels in ``.whl/`` (carry it; the wrapper installs them in /tmp/site first).
  Make them here, in the repository root (the versions of this project's .venv; CPython 3.12 there):
    echo /.whl/ >> .git/info/exclude
    .venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
      datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 pycocotools==2.0.11 pydantic==2.14.4 \
      pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 segment-anything==1.0 pytorch-crf==0.7.2
  The smner_bench package need not be installed there: the script imports it from this working tree.
Check on a CPU (tiny models, < 3 minutes):
    .venv/bin/python tests/perf/gpu_check.py --device cpu --quick
"""

from __future__ import annotations

import argparse
import gc
import importlib.abc
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from release_sizes import GMNER_XML, release_sizes

ROOT = Path(__file__).resolve().parents[2]
SUBPACKAGES = ("benchmark", "loaders", "baselines", "leaderboard")
# random.Random(0).sample(<the 5,612 VOC sizes of v2.0/xml/*.xml, files sorted>, 64): mean 0.41 MP (all: 0.38 MP)
SIZES = (
    (600, 607), (599, 347), (250, 250), (1024, 768), (599, 313), (600, 450), (600, 421), (600, 969), (600, 531),
    (600, 401), (600, 341), (750, 634), (600, 337), (300, 169), (600, 803), (600, 400), (600, 600), (505, 1024),
    (294, 171), (600, 894), (600, 506), (1200, 900), (599, 804), (600, 803), (600, 338), (599, 399), (480, 360),
    (490, 276), (600, 832), (392, 550), (600, 901), (600, 338), (600, 735), (748, 523), (600, 480), (520, 605),
    (600, 338), (560, 371), (497, 497), (600, 371), (1200, 1200), (600, 800), (1200, 1200), (530, 298), (561, 341),
    (480, 640), (480, 320), (768, 1023), (600, 472), (600, 863), (600, 465), (600, 423), (1200, 900), (468, 353),
    (600, 400), (731, 731), (266, 400), (1200, 1200), (1200, 675), (1200, 675), (600, 1067), (599, 337), (500, 750),
    (300, 431),
)  # fmt: skip
NEEDED = ("torch", "transformers", "accelerate", "torchcrf", "segment_anything", "pydantic", "datasets", "pycocotools")
# untimed then timed: PLIM optimizer steps of 16 tweets, VE/VG/SAM images (--train-steps, --images, --warmup)
FULL = {"train_warmup": 3, "train_steps": 30, "ve_images": 64, "vg_images": 32, "sam_images": 32, "warmup": 3}
QUICK = {"train_warmup": 1, "train_steps": 2, "ve_images": 3, "vg_images": 3, "sam_images": 3, "warmup": 1}


class _TreeFinder(importlib.abc.MetaPathFinder):
    """``smner_bench.<sub>`` from this working tree's ``<sub>/`` folders (the GPU machine has no install)."""

    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if parts[0] != "smner_bench":
            return None
        if len(parts) == 1:
            spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
            spec.submodule_search_locations = []
            return spec
        if len(parts) == 2 and parts[1] in SUBPACKAGES:
            folder = ROOT / parts[1]
            return importlib.util.spec_from_file_location(
                name, folder / "__init__.py", submodule_search_locations=[str(folder)]
            )
        return None


def ensure_package() -> str:
    """Where ``smner_bench`` comes from: the installed package, else this working tree."""
    if importlib.util.find_spec("smner_bench") is not None:
        try:
            import smner_bench.benchmark  # noqa: F401

            return "installed"
        except ImportError:
            pass
    sys.meta_path.insert(0, _TreeFinder())
    return f"working tree {ROOT}"


# ---------------------------------------------------------------------------------------------------- helpers


class Measurements:
    def __init__(self, device: str, quick: bool, budget: float) -> None:
        self.device, self.quick, self.budget = device, quick, budget
        self.start = time.perf_counter()
        self.figures: list[dict] = []
        self.failed: list[str] = []
        self.skipped: list[str] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def emit(self, record: dict) -> None:
        record = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in record.items()}
        self.figures.append(record)
        print(json.dumps(record), flush=True)

    def over_budget(self, name: str) -> bool:
        if self.elapsed() > self.budget:
            print(f"# {name}: skipped, the budget of {self.budget:.0f} s is spent ({self.elapsed():.0f} s)", flush=True)
            self.skipped.append(name)
            self.emit({"figure": name, "skipped": f"budget of {self.budget:.0f} s spent"})
            return True
        return False

    def run(self, name: str, fn, *args) -> object:
        """``fn(*args)``; a failure is printed (with its traceback on stderr) and recorded, not raised."""
        t0 = time.perf_counter()
        try:
            return fn(*args)
        except Exception as exc:  # one section's failure must not stop the others
            traceback.print_exc()
            self.failed.append(name)
            self.emit({"figure": name, "error": f"{type(exc).__name__}: {exc}"[:2000]})
            return None
        finally:
            print(f"# {name}: {time.perf_counter() - t0:.1f} s (total {self.elapsed():.0f} s)", flush=True)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cuda_reset(device: str) -> float | None:
    """Peak statistics reset; the memory allocated now (MiB) on CUDA."""
    import torch

    if not device.startswith("cuda"):
        return None
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return torch.cuda.memory_allocated() / 2**20


def cuda_peak(device: str) -> float | None:
    import torch

    if not device.startswith("cuda"):
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def real_sizes() -> tuple[list[tuple[int, int]], str]:
    """The embedded sample, checked against the release's XML files where they are."""
    if not GMNER_XML.is_dir():
        return list(SIZES), "embedded sample (the release is not here)"
    sizes = release_sizes()
    drawn = random.Random(0).sample(sizes, len(SIZES)) if len(sizes) >= len(SIZES) else []
    if drawn != list(SIZES):
        return list(SIZES), f"embedded sample (DIFFERS from a new draw from {GMNER_XML})"
    return list(SIZES), f"embedded sample, equal to a new draw from {GMNER_XML}"


def make_images(n: int, seed: int = 0) -> list:
    """``n`` synthetic RGB images at the sizes of the sample (cycled)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        image = Image.fromarray(rng.integers(150, 255, (h, w, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            draw.rectangle([x0, y0, x0 + w // 3, y0 + h // 3], fill=tuple(int(c) for c in rng.integers(0, 150, 3)))
        out.append(image)
    return out


def make_words(n: int = 600, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < n:
        words["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))] = None
    return list(words)


def fast_tokenizer(folder: Path, words: list[str]):
    """The word-level BERT tokenizer of ``baselines/tiny.py``, loaded back as ``AutoTokenizer`` loads a real
    checkpoint's (the fast one)."""
    from transformers import AutoTokenizer

    from smner_bench.baselines import tiny

    tiny.bert_tokenizer(folder, words)
    return AutoTokenizer.from_pretrained(folder)


def expressions(words: list[str], rng: random.Random, k: int = 2) -> list[str]:
    """``k`` referring expressions like ``"Word Word (PER) - a word word word word"``."""
    kinds = ("PER", "LOC", "ORG", "OTHER")
    return [
        f"{' '.join(rng.sample(words, 2)).title()} ({rng.choice(kinds)}) - a {' '.join(rng.sample(words, 5))}"
        for _ in range(k)
    ]


# ---------------------------------------------------------------------------------------------------- PLIM


def plim_section(rep: Measurements, args, work: Path, words: list[str]) -> None:
    import torch
    from transformers import BertConfig

    from smner_bench.baselines import tiny
    from smner_bench.baselines.plim.config import PlimConfig
    from smner_bench.baselines.plim.data import encode
    from smner_bench.baselines.plim.model import PlimTagger
    from smner_bench.baselines.plim.train import PlimCollate, bucketed_batches, plim_loss
    from smner_bench.baselines.training import Objective, fit, make_accelerator, set_seed
    from smner_bench.benchmark.tags import TAG_NAMES

    counts = QUICK if args.quick else FULL
    d = {name: field.default for name, field in PlimConfig.model_fields.items()}
    batch_size, max_length = d["batch_size"], d["max_length"]
    tokenizer = fast_tokenizer(work / "plim-tok", words)
    if args.quick:
        encoder_folder = tiny.save_encoder(work / "plim-encoder", words)
    rng = random.Random(1)
    steps = counts["train_warmup"] + counts["train_steps"]
    examples = []
    for _ in range(steps * batch_size):
        tokens = rng.choices(words, k=rng.randint(30, 50))  # ~40 word pieces (every word is one piece)
        knowledge = " ".join(rng.choices(words, k=rng.randint(180, 240)))  # ~200, cut at max_length
        tags = [rng.randrange(len(TAG_NAMES)) for _ in tokens]
        examples.append(encode(tokenizer, tokens, knowledge, tags=tags, max_length=max_length))
    mean_len = sum(len(e.input_ids) for e in examples) / len(examples)

    for precision in ("no", "bf16"):
        name = f"plim_train/{'fp32' if precision == 'no' else precision}"
        if rep.over_budget(name):
            continue

        def one(precision=precision, name=name):
            t_build = time.perf_counter()
            set_seed(0)
            accelerator = make_accelerator(args.device, precision)
            if args.quick:
                model = PlimTagger.from_pretrained(str(encoder_folder), dropout=d["dropout"])
            else:
                model = PlimTagger.from_config(BertConfig(), dropout=d["dropout"])
            model = model.to(accelerator.device)
            crf = {id(p) for p in model.crf.parameters()}
            optimizer = torch.optim.AdamW(
                [
                    {"params": [p for p in model.parameters() if id(p) not in crf], "lr": d["lr"]},
                    {"params": list(model.crf.parameters()), "lr": d["crf_lr"]},
                ],
                weight_decay=d["weight_decay"],
            )
            special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
            base = PlimCollate(
                tokenizer.pad_token_id,
                d["word_dropout"],
                tokenizer.unk_token_id,
                special,
                torch.Generator().manual_seed(0),
            )
            marks: list[tuple[float, int, int]] = []  # (time, real tokens, padded tokens) at each batch's collation

            def collate(part):
                sync(args.device)
                batch = base(part)
                marks.append((time.perf_counter(), int(batch["attention_mask"].sum()), batch["input_ids"].numel()))
                return batch

            weights_mb = cuda_reset(args.device)
            build_s = time.perf_counter() - t_build
            fit(
                accelerator,
                Objective(model, plim_loss),
                optimizer,
                examples,
                collate,
                batches=lambda gen, size: bucketed_batches(examples, size, gen),
                epochs=1,
                batch_size=batch_size,
                seed=0,
                clip=d["grad_clip"],
                desc="PLIM",
                progress=False,
                schedule="linear",
                warmup_ratio=d["warmup_ratio"],
            )
            sync(args.device)
            end = time.perf_counter()
            warm = counts["train_warmup"]
            timed = marks[warm:]
            seconds = end - timed[0][0]
            tokens = sum(m[1] for m in timed)
            rep.emit(
                {
                    "figure": "plim_train",
                    "device": args.device,
                    "precision": "fp32" if precision == "no" else precision,
                    "model": "tiny BERT + CRF" if args.quick else "BERT-base (BertConfig()) + CRF",
                    "batch": batch_size,
                    "max_length": max_length,
                    "mean_word_pieces": mean_len,
                    "warmup_steps": warm,
                    "timed_steps": len(timed),
                    "tokens_per_s": tokens / seconds,
                    "padded_tokens_per_s": sum(m[2] for m in timed) / seconds,
                    "tweets_per_s": len(timed) * batch_size / seconds,
                    "step_ms": 1000 * seconds / len(timed),
                    "build_s": build_s,
                    "cuda_weights_mb": weights_mb,
                    "cuda_peak_mb": cuda_peak(args.device),
                }
            )
            del model, optimizer, accelerator

        rep.run(name, one)
        gc.collect()


# ---------------------------------------------------------------------------------------------------- VE, VG, SAM


def timed_images(rep: Measurements, args, figure: str, dtype: str, model_name: str, images, call, texts: int) -> None:
    """``call(image)`` on ``warmup`` images, then on the timed ones: images/s and peak memory."""
    import torch

    warm = (QUICK if args.quick else FULL)["warmup"]
    weights_mb = cuda_reset(args.device)
    with torch.no_grad():
        for image in images[:warm]:
            call(image)
        sync(args.device)
        t0 = time.perf_counter()
        for image in images[warm:]:
            call(image)
        sync(args.device)
    seconds = time.perf_counter() - t0
    n = len(images) - warm
    rep.emit(
        {
            "figure": figure,
            "device": args.device,
            "dtype": dtype,
            "model": model_name,
            "warmup_images": warm,
            "timed_images": n,
            "per_image": texts,
            "images_per_s": n / seconds,
            "texts_per_s": n * texts / seconds,
            "ms_per_image": 1000 * seconds / n,
            "mean_megapixels": sum(im.size[0] * im.size[1] for im in images[warm:]) / n / 1e6,
            "cuda_weights_mb": weights_mb,
            "cuda_peak_mb": cuda_peak(args.device),
        }
    )


def to_dtype(model, dtype: str, device: str):
    """The model in ``dtype``, as ``load_kwargs(dtype)`` would load it."""
    from smner_bench.baselines.dtype import resolve_dtype

    return model.to(resolve_dtype(dtype, device))


def ve_section(rep: Measurements, args, work: Path, words: list[str]) -> None:
    import torch
    from transformers import AutoProcessor, BlipForImageTextRetrieval

    from smner_bench.baselines import tiny
    from smner_bench.baselines.ve import ImageTextMatcher

    counts = QUICK if args.quick else FULL
    n = counts["ve_images"] + counts["warmup"]
    state: dict = {}

    def build():
        torch.manual_seed(0)
        if args.quick:
            folder = tiny.save_image_text_matcher(work / "ve", words)
            state["model"] = BlipForImageTextRetrieval.from_pretrained(folder, dtype=torch.float32)
            state["processor"] = AutoProcessor.from_pretrained(folder)
            state["name"] = "tiny BLIP ITM (32 px)"
        else:
            from transformers import BlipConfig, BlipImageProcessor, BlipProcessor

            tokenizer = fast_tokenizer(work / "ve-tok", words)
            state["model"] = BlipForImageTextRetrieval(BlipConfig())
            state["processor"] = BlipProcessor(
                image_processor=BlipImageProcessor(size={"height": 384, "width": 384}), tokenizer=tokenizer
            )
            state["name"] = "BLIP ITM base (BlipConfig(), 384 px)"
        state["images"] = make_images(n)
        rng = random.Random(2)
        state["texts"] = [expressions(words, rng) for _ in range(n)]

    rep.run("ve/build", build)
    if "images" not in state:
        return
    for dtype in ("fp32", "bf16"):
        name = f"ve_infer/{dtype}"
        if rep.over_budget(name):
            continue

        def one(dtype=dtype):
            model = to_dtype(state["model"], dtype, args.device)
            matcher = ImageTextMatcher(None, device=args.device, dtype=dtype, model=model, processor=state["processor"])
            texts = iter(state["texts"])
            timed_images(
                rep,
                args,
                "ve_infer",
                dtype,
                state["name"],
                state["images"],
                lambda image: matcher.scores(image, next(texts)),
                2,
            )
            state["model"] = matcher.model.to("cpu")  # memory of the next dtype measured alone

        rep.run(name, one)
    state.clear()
    gc.collect()


def vg_section(rep: Measurements, args, work: Path, words: list[str]) -> None:
    import torch
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    from smner_bench.baselines import tiny
    from smner_bench.baselines.vg import Grounder

    counts = QUICK if args.quick else FULL
    n = counts["vg_images"] + counts["warmup"]
    state: dict = {}

    def build():
        torch.manual_seed(0)
        if args.quick:
            folder = tiny.save_grounder(work / "vg", words)
            state["model"] = AutoModelForZeroShotObjectDetection.from_pretrained(folder, dtype=torch.float32)
            state["processor"] = AutoProcessor.from_pretrained(folder)
            state["name"] = "tiny Grounding DINO (128 px)"
        else:
            from transformers import (
                GroundingDinoConfig,
                GroundingDinoForObjectDetection,
                GroundingDinoImageProcessor,
                GroundingDinoProcessor,
            )

            tokenizer = fast_tokenizer(work / "vg-tok", words)
            state["model"] = GroundingDinoForObjectDetection(GroundingDinoConfig())
            state["processor"] = GroundingDinoProcessor(
                image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 800, "longest_edge": 1333}),
                tokenizer=tokenizer,
            )
            state["name"] = "Grounding DINO tiny (GroundingDinoConfig(), 800/1333)"
        state["images"] = make_images(n, seed=1)
        rng = random.Random(3)
        state["texts"] = [expressions(words, rng) for _ in range(n)]

    rep.run("vg/build", build)
    if "images" not in state:
        return
    for dtype in ("fp32", "bf16"):
        name = f"vg_infer/{dtype}"
        if rep.over_budget(name):
            continue

        def one(dtype=dtype):
            model = to_dtype(state["model"], dtype, args.device)
            grounder = Grounder(None, device=args.device, dtype=dtype, model=model, processor=state["processor"])
            texts = iter(state["texts"])
            found = []
            timed_images(
                rep,
                args,
                "vg_infer",
                dtype,
                state["name"],
                state["images"],
                lambda image: found.append(grounder.ground(image, next(texts))),
                2,
            )
            if not all(len(f) == 2 for f in found):
                raise RuntimeError(f"ground gave {[len(f) for f in found]} boxes per image, not 2")
            state["model"] = grounder.model.to("cpu")

        rep.run(name, one)
    state.clear()
    gc.collect()


def sam_section(rep: Measurements, args, work: Path, words: list[str]) -> None:
    import numpy as np
    import torch

    from smner_bench.baselines import tiny
    from smner_bench.baselines.sam import BoxToMask, load_predictor

    counts = QUICK if args.quick else FULL
    n = counts["sam_images"] + counts["warmup"]
    state: dict = {}

    def build():
        if args.quick:
            path, kind = tiny.save_sam(work / "sam.pth"), "tiny"
            state["name"] = "tiny SAM (64 px)"
        else:
            from segment_anything import sam_model_registry

            torch.manual_seed(0)
            path, kind = work / "sam_vit_b.pth", "vit_b"
            torch.save(sam_model_registry["vit_b"]().state_dict(), path)
            state["name"] = "SAM vit_b (1024 px)"
        state["predictor"] = load_predictor(path, kind, args.device)
        images = make_images(n, seed=2)
        rng = np.random.default_rng(4)
        state["arrays"] = [np.asarray(im) for im in images]
        state["images"] = images
        boxes = []
        for im in images:
            w, h = im.size
            found = []
            for _ in range(2):
                x0, y0 = float(rng.uniform(0, w / 2)), float(rng.uniform(0, h / 2))
                found.append([x0, y0, x0 + float(rng.uniform(w / 8, w / 2)), y0 + float(rng.uniform(h / 8, h / 2))])
            boxes.append(found)
        state["boxes"] = boxes

    rep.run("sam/build", build)
    if "images" not in state:
        return
    index = {id(im): k for k, im in enumerate(state["images"])}
    for dtype in ("fp32", "bf16"):
        name = f"sam_infer/{dtype}"
        if rep.over_budget(name):
            continue

        def one(dtype=dtype):
            adapter = BoxToMask(state["predictor"], dtype=dtype)
            made = []

            def call(image):
                k = index[id(image)]
                made.append(len(adapter.masks(state["arrays"][k], state["boxes"][k])))

            timed_images(rep, args, "sam_infer", dtype, state["name"], state["images"], call, 2)
            if made != [2] * len(made):
                raise RuntimeError(f"BoxToMask gave {made} masks per image, not 2")

        rep.run(name, one)
    state.clear()
    gc.collect()


# ---------------------------------------------------------------------------------------------------- main


def table(figures: list[dict]) -> str:
    lines = [f"{'figure':<11} {'precision':<9} {'rate':>22} {'ms/step|image':>14} {'weights MiB':>11} {'peak MiB':>9}"]
    for f in figures:
        if f["figure"] in ("environment", "total"):
            continue
        if "error" in f or "skipped" in f:
            lines.append(f"{f['figure']:<22} {'FAILED: ' + f['error'] if 'error' in f else 'skipped'}"[:200])
            continue
        if f["figure"] == "plim_train":
            prec, rate, ms = f["precision"], f"{f['tokens_per_s']:,.0f} tokens/s", f["step_ms"]
        else:
            prec, rate, ms = f["dtype"], f"{f['images_per_s']:,.2f} images/s", f["ms_per_image"]
        mem = [f"{f[k]:,.0f}" if f.get(k) is not None else "-" for k in ("cuda_weights_mb", "cuda_peak_mb")]
        lines.append(f"{f['figure']:<11} {prec:<9} {rate:>22} {ms:>14.1f} {mem[0]:>11} {mem[1]:>9}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (the process's GPU) or cpu")
    ap.add_argument("--quick", action="store_true", help="tiny models and 2-3 steps (a CPU check of the script)")
    ap.add_argument("--budget-seconds", type=float, default=420.0, help="skip the sections left after this")
    ap.add_argument("--only", nargs="+", choices=("plim", "ve", "vg", "sam"), help="run only these sections")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--train-steps", type=int, help="timed PLIM steps (default 30, --quick 2)")
    ap.add_argument("--images", type=int, help="timed images of VE, VG and SAM (default 64/32/32, --quick 3)")
    ap.add_argument("--warmup", type=int, help="untimed PLIM steps and images (default 3, --quick 1)")
    args = ap.parse_args()
    counts = QUICK if args.quick else FULL
    if args.train_steps is not None:
        counts["train_steps"] = max(1, args.train_steps)
    if args.images is not None:
        counts.update(ve_images=max(1, args.images), vg_images=max(1, args.images), sam_images=max(1, args.images))
    if args.warmup is not None:
        counts.update(train_warmup=max(0, args.warmup), warmup=max(0, args.warmup))
    source = ensure_package()
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"missing Python packages: {', '.join(missing)}: carry them as wheels in .whl/ (see this script's "
            "docstring) and run through tests/perf/gpu_check.sh; the sections that need them will fail",
            file=sys.stderr,
        )
    import torch
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)
    rep = Measurements(args.device, args.quick, args.budget_seconds)
    env = {
        "figure": "environment",
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") and torch.cuda.is_available() else None,
        "quick": args.quick,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
        "smner_bench": source,
        "cpu_threads": torch.get_num_threads(),
        "budget_seconds": args.budget_seconds,
        "missing_packages": missing,
    }
    sizes_note = real_sizes()[1]
    env["image_sizes"] = sizes_note
    rep.emit(env)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("--device cuda: no GPU is visible", file=sys.stderr)
        return 1
    words = make_words()
    sections = {"plim": plim_section, "ve": ve_section, "vg": vg_section, "sam": sam_section}
    with tempfile.TemporaryDirectory(prefix="smner-gpu-check-") as tmp:
        for key, fn in sections.items():
            if args.only and key not in args.only:
                continue
            if rep.over_budget(key):
                continue
            print(f"# {key}: start at {rep.elapsed():.0f} s", flush=True)
            rep.run(key, fn, rep, args, Path(tmp), words)
    total = rep.elapsed()
    rep.emit({"figure": "total", "seconds": total, "failed_sections": rep.failed, "skipped_sections": rep.skipped})
    print()
    print(table(rep.figures))
    print(
        f"total {total:.0f} s; failed: {', '.join(rep.failed) or 'none'}; skipped: {', '.join(rep.skipped) or 'none'}"
    )
    if os.environ.get("OUT"):
        from smner_bench.benchmark.safe_output import write_json

        print(f"figures written to {write_json(Path(os.environ['OUT']) / 'gpu_check.json', rep.figures)}")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
