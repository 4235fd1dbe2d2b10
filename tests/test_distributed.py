"""The training loop under a launcher (issue 12): ``accelerate launch --multi_gpu --num_processes 2`` with
``--device cpu`` (gloo; ``accelerate launch --cpu`` alone starts one process, its multi-CPU mode needs MPI) with a
per-process batch of B/2 trains like one process with batch B: PLIM on the synthetic sample (dropout and word
dropout off, same seed) ends with the same dev-F1 history, the same losses and the same weights within float
tolerance; VE (tiny BLIP, no dropout in its config, images decoded by a DataLoader worker) too. Only the main
process writes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import IN_CI

torch = pytest.importorskip("torch") if not IN_CI else __import__("torch")

from smner_bench.baselines import tiny  # noqa: E402

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else shutil.which(name) or name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "HF_DATASETS_CACHE": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def _train(processes: int, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    command = [_tool("smner-bench"), "baseline", *args]
    if processes > 1:
        command = [
            _tool("accelerate"),
            "launch",
            "--multi_gpu",  # accelerate's torchrun launcher; --device cpu (the default) makes the processes CPU/gloo
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
            *command,
        ]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(tmp_path), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _close(a: dict, b: dict, atol: float = 1e-4) -> float:
    assert a.keys() == b.keys()
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert worst <= atol, f"weights differ by {worst}"
    return worst


def test_plim_two_processes_train_like_one_with_the_global_batch(sample_dir, words, tmp_path):
    encoder = tiny.save_encoder(tmp_path / "encoder", words)  # the sample's words: it can learn them
    common = [
        "plim-train",
        "--encoder",
        str(encoder),
        "--data-dir",
        str(sample_dir),
        "--knowledge",
        str(sample_dir / "knowledge.zip"),
        "--epochs",
        "4",
        "--lr",
        "0.005",
        "--crf-lr",
        "0.05",
        "--max-length",
        "64",
        "--seed",
        "7",
        "--dropout",
        "0",
        "--word-dropout",
        "0",
        "--threads",
        "1",
    ]
    _train(1, [*common, "--batch-size", "8", "--out", str(tmp_path / "one")], tmp_path)
    done = _train(2, [*common, "--batch-size", "4", "--out", str(tmp_path / "two")], tmp_path)
    assert done.stdout.count("best dev F1") == 1  # one process reports and writes
    one, two = (json.loads((tmp_path / r / "history.json").read_text()) for r in ("one", "two"))
    assert (one["world_size"], one["global_batch"]) == (1, 8) and (two["world_size"], two["global_batch"]) == (2, 8)
    assert [e["dev"] for e in one["epochs"]] == [e["dev"] for e in two["epochs"]]  # the same dev-F1 history
    assert one["best_epoch"] == two["best_epoch"]
    assert [e["loss"] for e in one["epochs"]] == pytest.approx([e["loss"] for e in two["epochs"]], rel=1e-4)
    assert one["epochs"][0]["loss"] != pytest.approx(one["epochs"][-1]["loss"], rel=1e-3)  # it did train
    assert one["best_dev_f1"] > 0  # and found entities: the dev-F1 histories compared are not all zeros
    weights = [torch.load(tmp_path / r / "best" / "model.pt", weights_only=True) for r in ("one", "two")]
    worst = _close(*weights)
    print(  # the figures of the closing note (pytest -s)
        f"\nPLIM 1x8 vs 2x4: dev F1 {[e['dev']['f1'] for e in one['epochs']]} vs "
        f"{[e['dev']['f1'] for e in two['epochs']]}; losses {[round(e['loss'], 6) for e in one['epochs']]} vs "
        f"{[round(e['loss'], 6) for e in two['epochs']]}; largest weight difference {worst:.2e}"
    )
    plim = json.loads((tmp_path / "two" / "best" / "plim.json").read_text())
    assert plim["world_size"] == 2 and plim["per_process_batch"] == 4 and plim["config"]["batch_size"] == 4


def test_ve_two_processes_with_image_workers_train_like_one(sample_dir, matcher_dir, tmp_path):
    from safetensors.torch import load_file

    common = [
        "ve-train",
        "--base",
        str(matcher_dir),
        "--data-dir",
        str(sample_dir),
        "--images",
        str(sample_dir / "images"),
        "--epochs",
        "2",
        "--lr",
        "0.001",
        "--seed",
        "5",
        "--threads",
        "1",
        "--workers",
        "1",
        "--image-cache-mb",
        "1",
    ]
    _train(1, [*common, "--images-per-batch", "4", "--out", str(tmp_path / "one")], tmp_path)
    _train(2, [*common, "--images-per-batch", "2", "--out", str(tmp_path / "two")], tmp_path)
    one, two = (json.loads((tmp_path / r / "ve.json").read_text()) for r in ("one", "two"))
    assert (one["world_size"], one["global_batch"]) == (1, 4) and (two["world_size"], two["global_batch"]) == (2, 4)
    assert [h["loss"] for h in one["history"]] == pytest.approx([h["loss"] for h in two["history"]], rel=1e-4)
    assert one["threshold"] == pytest.approx(two["threshold"], abs=1e-4) and one["dev"] == two["dev"]
    worst = _close(*(load_file(tmp_path / r / "model.safetensors") for r in ("one", "two")))
    print(
        f"\nVE 1x4 vs 2x2: losses {[round(h['loss'], 6) for h in one['history']]} vs "
        f"{[round(h['loss'], 6) for h in two['history']]}; dev {one['dev']} vs {two['dev']}; "
        f"largest weight difference {worst:.2e}"
    )
    base = load_file(matcher_dir / "model.safetensors")
    trained = load_file(tmp_path / "one" / "model.safetensors")
    assert any(not torch.equal(base[k], trained[k]) for k in base)  # it did train
