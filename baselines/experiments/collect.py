"""Collect the two PLIM runs of plim_minilm.sh (and its paired bootstrap) into <stem>.json and <stem>.md (measured,
never typed). Usage: collect.py RUN_FOLDER STEM [DATASET [EPOCHS]]."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from smner_bench.baselines.loading import read_json_file
from smner_bench.benchmark.errors import DataFormatError, SmnerError
from smner_bench.benchmark.registry import DATASETS
from smner_bench.benchmark.safe_output import write_json, write_text
from smner_bench.benchmark.significance import format_p


def machine() -> dict:
    import torch

    cpu = "unknown"
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.is_available(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _summary(run: dict, history: dict, report: dict) -> dict:
    """One run's figures; a record without them (or with text where numbers belong) raises a lookup/type error."""
    test = report["results"]["mner"]
    numbers = [test[k] for k in ("precision", "recall", "f1")] + [history["best_dev_f1"], history.get("seconds", 0)]
    if not all(isinstance(x, (int, float)) for x in numbers + [e["train_seconds"] for e in history["epochs"]]):
        raise TypeError("a figure that is not a number")
    return {
        "command": run["command"],
        "config": run["config"],
        "epochs_run": len(history["epochs"]),
        "best_epoch": history["best_epoch"],
        "dev_f1": history["best_dev_f1"],
        "train_minutes": round(sum(e["train_seconds"] for e in history["epochs"]) / 60, 1),
        "total_minutes": round(history.get("seconds", 0) / 60, 1),
        "stopped": history.get("stopped", "epochs done"),
        "tokens_per_second": [e["tokens_per_second"] for e in history["epochs"]],
        "history": history["epochs"],
        "test": {k: test[k] for k in ("precision", "recall", "f1", "tp", "pred", "gold")},
        "test_submission_sha256": report["submission"]["sha256"],
    }


# What the RiVEG paper reports for the same comparison (its numbers as printed, BERT-base encoder).
PAPER_GAIN = {
    "gmner": "the paper reports +4.7 for BERT-base trained to convergence",
    "twitter2015": "the paper's Table V: BERT-base-CRF text only 74.71, PLIM with ChatGPT knowledge 76.79, +2.08",
    "twitter2017": "the paper's Table V: BERT-base-CRF text only 84.96, PLIM with ChatGPT knowledge 89.58, +4.62",
}


def _significance(out: str) -> dict | None:
    """``compare.json`` of the run folder (knowledge as A, text as B), or ``None`` for runs made without it."""
    path = Path(out) / "compare.json"
    if not path.exists():
        return None
    found = read_json_file(path, "paired bootstrap record")
    keys = ("difference", "low", "high", "p_value", "resamples", "seed", "level", "match", "task")
    if not isinstance(found, dict) or not all(k in found for k in keys):
        raise DataFormatError(f"a bootstrap record without the fields {', '.join(keys)}", file=path)
    return {k: found[k] for k in keys}


def main(out: str, stem: str, dataset: str = "gmner", epochs: str | None = None) -> None:
    if dataset not in DATASETS:
        raise DataFormatError(f"unknown dataset {dataset!r} (expected one of {', '.join(DATASETS)})")
    title = DATASETS[dataset].title
    runs = {}
    for name in ("text", "knowledge"):
        folder = Path(out) / name
        run = read_json_file(folder / "run.json", "PLIM run record")
        history = read_json_file(folder / "history.json", "PLIM training history")
        report = read_json_file(folder / "test-report.json", "score report")
        try:
            runs[name] = _summary(run, history, report)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
            raise DataFormatError(f"a run record without the expected fields ({exc!r:.100})", file=folder) from None
    result = {
        "experiment": f"PLIM, all-MiniLM-L6-v2 encoder, {title} (MNER), text only vs gpt-3.5-turbo knowledge",
        "dataset": dataset,
        "scored_with": "smner-bench score --task mner --match span",
        "machine": machine(),
        "runs": runs,
        "difference_f1": runs["knowledge"]["test"]["f1"] - runs["text"]["test"]["f1"],
        "significance": _significance(out),
    }
    write_json(f"{stem}.json", result, inputs=[out])  # never over the runs it reads; the folder must exist
    m = result["machine"]
    lines = [
        f"# PLIM with all-MiniLM-L6-v2 on {title} (MNER, test)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu']}, torch {m['torch']}. Same seed and settings for",
        "both runs; the checkpoint with the best dev F1 is scored on test with `smner-bench score`.",
        "",
        "| run | P | R | F1 | dev F1 | epochs (best) | train time | stopped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        t = r["test"]
        lines.append(
            f"| {name} | {100 * t['precision']:.2f} | {100 * t['recall']:.2f} | {100 * t['f1']:.2f} | "
            f"{100 * r['dev_f1']:.2f} | {r['epochs_run']} ({r['best_epoch']}) | {r['train_minutes']} min | "
            f"{r['stopped']} |"
        )
    lines += ["", f"Knowledge minus text: {100 * result['difference_f1']:+.2f} F1 ({PAPER_GAIN[dataset]})."]
    sig = result["significance"]
    if sig:
        p = format_p(sig["p_value"], sig["resamples"])
        lines.append(
            f"Paired bootstrap over test tweets (`smner-bench compare`, {sig['resamples']} resamples, seed "
            f"{sig['seed']}): {100 * sig['difference']:+.2f} F1, {100 * sig['level']:.0f}% interval "
            f"[{100 * sig['low']:+.2f}, {100 * sig['high']:+.2f}], {p}."
        )
    lines += ["", "Commands:", ""]
    lines += [f"- {name}: `{r['command']}`" for name, r in runs.items()]
    config_epochs = runs["text"]["config"]["epochs"]
    lines += [
        "",
        f"Reproduce both with `baselines/experiments/plim_minilm.sh {dataset} {epochs or config_epochs}`.",
        "",
    ]
    write_text(f"{stem}.md", "\n".join(lines), inputs=[out])
    print("\n".join(lines))


if __name__ == "__main__":
    try:
        if not 3 <= len(sys.argv) <= 5:
            sys.exit("usage: collect.py RUN_FOLDER STEM [DATASET [EPOCHS]]")
        main(*sys.argv[1:])
    except SmnerError as exc:
        sys.exit(f"collect: error: {exc}")
