"""``baseline tiny-models``: tiny random models of every stage and a run file that uses them (tests, demo)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from smner_bench.benchmark.registry import DATASET_NAMES
from smner_bench.loaders.configs import add_source_options


def tiny_run_file(dataset: str, data_dir: str, images: str, out: Path) -> dict:
    """The run file of the tiny models: paths relative to its folder ``out``; PLIM, VE and VG are trained
    into plim/, ve/, vg/ first."""
    return {
        "dataset": dataset,
        "data_dir": os.path.relpath(Path(data_dir).resolve(), out),
        "split": "test",
        "images": os.path.relpath(Path(images).resolve(), out),
        "out": "run",
        "captions": {"captioner": "transformers:tiny/captioner", "max_new_tokens": 8},
        "knowledge": {"llm": "transformers:tiny/llm", "encoder": "tiny/encoder", "max_new_tokens": 16},
        "plim": {"checkpoint": "plim/best"},
        "expansion": {"llm": "transformers:tiny/llm", "max_new_tokens": 8},
        "ve": {"checkpoint": "ve"},
        "vg": {"checkpoint": "vg"},
        "sam": {"checkpoint": "tiny/sam.pth", "model_type": "tiny"},
    }


def cmd_tiny_models(args: argparse.Namespace) -> int:
    import yaml

    from smner_bench.benchmark.progress import library_bars_off
    from smner_bench.benchmark.safe_output import owned_folder, write_text
    from smner_bench.loaders import load

    from .. import tiny

    images = args.images or str(Path(args.data_dir) / "images")
    inputs = [args.data_dir, images]
    out = owned_folder(args.out, "riveg", inputs=inputs)  # checked before the data is read
    ds = load(args.dataset, args.data_dir)
    words = sorted({t for split in ds.values() for r in split for t in r["tokens"]})
    with library_bars_off(transformers=True):  # a "Writing model shards" bar per tiny model: noise
        paths = tiny.save_all(Path(args.out) / "tiny", words, inputs=inputs)
    for role, path in paths.items():
        print(f"{role:10s} {path}")
    run = tiny_run_file(args.dataset, args.data_dir, images, out)
    write_text(Path(args.out) / "run.yaml", yaml.safe_dump(run, sort_keys=False), inputs=inputs)
    print(f"run file  {Path(args.out) / 'run.yaml'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tiny-models", help="tiny random models of every stage + a run file (tests, demo)")
    p.add_argument("--out", required=True)
    p.add_argument("--dataset", choices=DATASET_NAMES, default="gmner")
    add_source_options(p, ["data_dir"], help={"data_dir": "a release whose words make the tiny vocabularies"})
    p.add_argument("--images", help="its image folder (default: <data-dir>/images), for the run file")
    p.set_defaults(func=cmd_tiny_models)
