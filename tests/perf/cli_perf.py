"""Start-up and whole-process cost of the command line (issue 13). Prints three ratios, each of two medians of
``--runs`` runs measured in this one run, beside its target:

  help     ``smner-bench --help`` against a bare interpreter importing the scoring core
           (``python -c "import smner_bench.benchmark.scoring"``): target <= 4x.
  gmner    ``smner-bench score`` of a Twitter-GMNER v2.0 test submission (the gold written as predictions,
           first box of each groundable entity) against the work of the released RiVEG statistics script on
           the same predictions in its own three files: that script is not in the data folder, so its
           algorithm is written anew here (every prediction compared with every gold line, strings split at
           each comparison, box IoU >= 0.5), standard library only: target >= 2x faster.
  smner    ``smner-bench score`` of a synthetic SMNER release (1,000 tweets, ~1,300 labelme polygon masks at
           640x640) and a submission of 2,500 predicted masks, against a bare one-pass pycocotools loop (read
           the labelme polygons and the submission, one ``mask.iou`` per predicted mask): target <= 2x (issue 21;
           3x before). ``smner_breakdown.py`` says where the time goes.

The first run of each command is a warm-up (it builds the ``datasets`` cache); files live in a temporary
folder. The two commands of a ratio run in turns (A, B, A, B...), so that a load that comes and goes on a shared
machine weighs on both. Data: $SMNER_BENCH_DATA (default ../shared/data).

Imports read bytecode, as they do for a user (pip compiles an installed package, and an editable install on its
first import): PYTHONDONTWRITEBYTECODE, which some sandboxes set, is dropped and the bytecode goes to a folder
of the temporary folder (PYTHONPYCACHEPREFIX), so that no run compiles the package's sources while the libraries
it is compared with (numpy, pycocotools) read theirs from site-packages. ``--source-imports`` keeps the
environment as it is (every import of the package compiles its sources when PYTHONDONTWRITEBYTECODE is set).

Run: .venv/bin/python tests/perf/cli_perf.py [--runs 5] [--source-imports]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SMNER_BENCH_DATA", ROOT.parent / "shared" / "data")).resolve()
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}


def use_bytecode(folder: Path) -> None:
    """Imports of the runs below read bytecode written under ``folder`` (compiled by the warm-up run)."""
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")


RIVEG_STATISTICS = r"""
# What the released RiVEG statistics script (statistic/statistic.py of JinYuanLi0012/RiVEG) does, written anew:
# read the VE-labelled entity lines, the grounding answers and the gold label file; then compare every
# prediction with every gold line (the strings split at each comparison), a hit when the flags agree or a gold
# box has IoU >= 0.5 with the predicted one.
import json, sys

lines_path, grounding_path, label_path = sys.argv[1:4]
predictions = open(lines_path, encoding="utf-8").read().splitlines()
boxes = {g["uniq_id"]: g["box"] for g in json.load(open(grounding_path, encoding="utf-8"))}
labels = open(label_path, encoding="utf-8").read().splitlines()

def iou(a, b):
    w = max(0, min(a[2], b[2]) - max(a[0], b[0])); h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return 0 if union == 0 else w * h / union

right = 0
for line in predictions:
    uniq = line.split("###")[0].split("Imageid:")[1]
    flag = int(line.split("###")[-1])
    box = boxes[uniq] if flag else [0, 0, 0, 0]
    hit = 0
    for gl in labels:
        if uniq.split(".jpg#")[0] + ".jpg" + line.split("###")[1] == gl.split("###")[0] + gl.split("###")[1]:
            if flag == 0 and int(gl.split("###")[-2]) == 0:
                hit += 1
            elif flag != 0:
                for part in gl.split("###")[-1].split("&")[1:]:
                    x1, y1, x2, y2 = (float(v) for v in part.strip("[] ").split(","))
                    if iou([x1, y1, x2, y2], box) >= 0.5:
                        hit += 1
    right += hit > 0
p, r = right / len(predictions), right / len(labels)
print(f"P {p:.4f} R {r:.4f} F1 {2 * p * r / (p + r):.4f}")
"""

MASK_LOOP = r"""
import json, sys
from pathlib import Path
from pycocotools import mask as M

data, sub = Path(sys.argv[1]), sys.argv[2]
gold = {}
for path in sorted((data / "masks").glob("*.json")):
    doc = json.loads(path.read_text(encoding="utf-8"))
    h, w = doc["imageHeight"], doc["imageWidth"]
    for s in doc["shapes"]:
        rle = M.merge(M.frPyObjects([[c for p in s["points"] for c in p]], h, w))
        gold.setdefault((path.stem, s["label"]), []).append(rle)
tp = n = 0
for line in open(sub, encoding="utf-8"):
    obj = json.loads(line)
    for ent in obj["entities"]:
        if ent.get("mask") is None: continue
        n += 1
        found = gold.get((obj["id"], ent["text"]))
        if found:
            m = dict(ent["mask"]); m["counts"] = m["counts"].encode()
            tp += bool((M.iou([m], found, [0]) >= 0.5).any())
print(f"{n} predicted masks, {tp} with IoU >= 0.5")
"""


def wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """The wall time of a command. (Not its CPU time: numpy's OpenBLAS threads spin for a while after the import,
    which adds to the CPU time of both sides of a ratio, not to their wall time on an idle machine.)"""
    start = time.perf_counter()
    subprocess.run(cmd, env=env or ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_walls(a: list[str], b: list[str], runs: int) -> tuple[float, float]:
    """The median wall times of ``a`` and ``b`` run in turns, after a warm-up run of each."""
    wall(a), wall(b)
    times = [(wall(a), wall(b)) for _ in range(runs)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def smner_bench() -> list[str]:
    """The console script (how users enter: pyproject's [project.scripts]) next to this interpreter."""
    script = Path(sys.executable).parent / "smner-bench"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "smner_bench.cli"]


def gmner_files(tmp: Path, data: Path) -> tuple[Path, Path, Path, Path]:
    """The same predictions (the Twitter-GMNER v2.0 test gold, first box of each groundable entity) as our
    submission and in the released script's three files: VE-labelled entity lines, grounding answers by uniq id,
    and the gold label file (``<id>.jpg###Entity(TYPE)###<1|0>###&[box]&[box]...``)."""
    from smner_bench.benchmark.submission import gold_as_submission, write_submission
    from smner_bench.loaders import load_gold

    gold = load_gold("gmner", "test", data_dir=data)
    sub = tmp / "gmner-test.jsonl"
    write_submission(sub, gold_as_submission(gold, box=True))
    lines, grounding, labels = [], [], []
    for t in gold.tweets:
        for k, e in enumerate(t.entities):
            uniq = f"{t.id}.jpg#{k:04x}"
            in_image = len(e.boxes) > 0
            lines.append(f"Imageid:{uniq}###{e.text}({e.type})###{e.text} ({e.type})###{2 if in_image else 0}")
            if in_image:
                grounding.append({"uniq_id": uniq, "box": [float(v) for v in e.boxes[0]]})
            regions = "".join(f"&[{', '.join(str(float(v)) for v in b)}]" for b in e.boxes)
            labels.append(f"{t.id}.jpg###{e.text}({e.type})###{1 if in_image else 0}###{regions}")
    (tmp / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp / "grounding.json").write_text(json.dumps(grounding), encoding="utf-8")
    (tmp / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return sub, tmp / "lines.txt", tmp / "grounding.json", tmp / "labels.txt"


def _ellipse(rng: random.Random, size: int) -> list[list[float]]:
    cx, cy, rx, ry = rng.uniform(100, 540), rng.uniform(100, 540), rng.uniform(20, 90), rng.uniform(20, 90)
    return [
        [round(cx + rx * math.cos(2 * math.pi * k / 24), 1), round(cy + ry * math.sin(2 * math.pi * k / 24), 1)]
        for k in range(24)
    ]


def smner_release(tmp: Path, tweets: int = 1000, size: int = 640) -> tuple[Path, Path, int, int]:
    """A raw SMNER release (test.txt, xml/, masks/ as labelme polygons) and a submission of 2,500 masks."""
    from pycocotools import mask as M

    rng = random.Random(0)
    data = tmp / "smner"
    (data / "xml").mkdir(parents=True)
    (data / "masks").mkdir()
    conll, lines, gold_masks, pred_masks = [], [], 0, 0
    for i in range(tweets):
        tid = f"t{i}"
        tokens = ["Ann", "met", "Bob", "in", "Rome"]
        tags = ["B-PER", "O", "B-PER", "O", "B-LOC"]
        conll += [f"IMGID:{tid}", *(f"{t}\t{g}" for t, g in zip(tokens, tags, strict=True)), ""]
        shapes, objects, entities = [], [], []
        for start, text, kind in ((0, "Ann", "PER"), (2, "Bob", "PER"), (4, "Rome", "LOC")):
            poly = None
            if gold_masks < 1300 and rng.random() < 0.45:
                poly = _ellipse(rng, size)
                gold_masks += 1
                xs, ys = [p[0] for p in poly], [p[1] for p in poly]
                shapes.append({"label": text, "points": poly, "group_id": None, "description": "",
                               "shape_type": "polygon", "flags": {}, "mask": None})  # fmt: skip
                objects.append(
                    f"<object><name>{text}</name><bndbox><xmin>{min(xs)}</xmin><ymin>{min(ys)}</ymin>"
                    f"<xmax>{max(xs)}</xmax><ymax>{max(ys)}</ymax></bndbox></object>"
                )
            entity = {"start": start, "end": start + 1, "text": text, "type": kind, "box": None, "mask": None}
            if pred_masks < 2500 and (poly is not None or rng.random() < 0.85):
                guess = poly if poly is not None and rng.random() < 0.7 else _ellipse(rng, size)
                rle = M.merge(M.frPyObjects([[c for p in guess for c in p]], size, size))
                x, y, w, h = M.toBbox(rle).tolist()
                entity["mask"] = {"size": [size, size], "counts": rle["counts"].decode()}
                entity["box"] = [x, y, x + max(w, 1), y + max(h, 1)]
                pred_masks += 1
            entities.append(entity)
        lines.append({"id": tid, "entities": entities})
        if shapes:
            doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": f"{tid}.jpg", "imageData": None,
                   "imageHeight": size, "imageWidth": size}  # fmt: skip
            (data / "masks" / f"{tid}.json").write_text(json.dumps(doc), encoding="utf-8")
            (data / "xml" / f"{tid}.xml").write_text(
                f"<annotation><filename>{tid}.jpg</filename><size><width>{size}</width><height>{size}</height>"
                f"<depth>3</depth></size>{''.join(objects)}</annotation>",
                encoding="utf-8",
            )
    for split in ("train", "dev", "test"):
        (data / f"{split}.txt").write_text("\n".join(conll) + "\n", encoding="utf-8")
    sub = tmp / "smner-test.jsonl"
    sub.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return data, sub, gold_masks, pred_masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=str(DATA / "twitter-gmner" / "v2.0"), help="Twitter-GMNER v2.0")
    parser.add_argument("--source-imports", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as it is")
    args = parser.parse_args()
    cli, py = smner_bench(), sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if not args.source_imports:
            use_bytecode(tmp)
        core = [py, "-c", "import smner_bench.benchmark.scoring"]
        help_s, core_s = median_walls([*cli, "--help"], core, args.runs)
        rows.append(("help", f"--help {help_s:.3f} s / core import {core_s:.3f} s", help_s / core_s, "<= 4x"))
        data = Path(args.data_dir)
        sub, lines, grounding, labels = gmner_files(tmp, data)
        (tmp / "statistics.py").write_text(RIVEG_STATISTICS, encoding="utf-8")
        score = [*cli, "score", str(sub), "--dataset", "gmner", "--split", "test", "--data-dir", str(data)]
        riveg = [py, str(tmp / "statistics.py"), str(lines), str(grounding), str(labels)]
        score_s, riveg_s = median_walls(score, riveg, args.runs)
        what = f"RiVEG's statistics {riveg_s:.3f} s / score {score_s:.3f} s"
        rows.append(("gmner", what, riveg_s / score_s, ">= 2x faster"))
        smner, msub, n_gold, n_pred = smner_release(tmp)
        time.sleep(3.5)  # raw files as old as a release's (the digest of a file changed < 3 s ago is never memoised)
        (tmp / "maskloop.py").write_text(MASK_LOOP, encoding="utf-8")
        score = [*cli, "score", str(msub), "--dataset", "smner", "--split", "test", "--data-dir", str(smner)]
        loop = [py, str(tmp / "maskloop.py"), str(smner), str(msub)]
        score_s, loop_s = median_walls(score, loop, args.runs)
        what = f"score {score_s:.3f} s / pycocotools loop {loop_s:.3f} s ({n_gold} gold, {n_pred} predicted masks)"
        rows.append(("smner", what, score_s / loop_s, "<= 2x"))
    imports = "sources compiled at each import" if args.source_imports else "imports read bytecode"
    print(f"cli_perf: median of {args.runs} runs each, in turns (after a warm-up run); {imports}")
    for name, what, ratio, target in rows:
        print(f"  {name:6s} {ratio:6.2f}x  target {target:13s} {what}")


if __name__ == "__main__":
    main()
