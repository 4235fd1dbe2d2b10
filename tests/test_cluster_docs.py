"""The cluster files of ``docs/cluster/`` run as written (issue 12): ``submit.sh`` with its two SLURM scripts, under a
stand-in ``sbatch`` that runs an array's tasks one after the other with SLURM's array variables and a dependent job
only when its dependency succeeded; the merged RiVEG files are byte-identical to one unsharded run. The PLIM
script runs under ``accelerate launch`` with the CPU config (two processes, gloo), and the 8-GPU config differs
from that tested one only in the process count and mixed precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smner_bench.cli import main

from .conftest import ROOT

CLUSTER = ROOT / "docs" / "cluster"
BIN = Path(sys.executable).parent

FAKE_SBATCH = """#!{python}
# A stand-in for sbatch: runs the script now (an array: each task in turn, with SLURM's array variables).
import json, os, subprocess, sys
from pathlib import Path

state = Path(os.environ["FAKE_SLURM_STATE"])
jobs = json.loads(state.read_text()) if state.exists() else []
args, script = sys.argv[1:-1], sys.argv[-1]
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
job = len(jobs) + 1
ok = True
after = opts.get("dependency", "")
if after.startswith("afterok:") and not all(j["ok"] for j in jobs if str(j["id"]) == after[8:]):
    ok = False  # the dependency failed: never runs
else:
    lo, hi = map(int, opts["array"].split("-")) if "array" in opts else (None, None)
    tasks = range(lo, hi + 1) if lo is not None else [None]
    for task in tasks:
        env = dict(os.environ, SLURM_JOB_ID=str(job))
        if task is not None:
            env.update(SLURM_ARRAY_JOB_ID=str(job), SLURM_ARRAY_TASK_ID=str(task),
                       SLURM_ARRAY_TASK_COUNT=str(hi - lo + 1), SLURM_ARRAY_TASK_MIN=str(lo),
                       SLURM_ARRAY_TASK_MAX=str(hi))
        ok &= subprocess.run(["bash", script], env=env, stdout=sys.stderr).returncode == 0  # sbatch prints the id
jobs.append({{"id": job, "script": Path(script).name, "options": opts, "ok": ok}})
state.write_text(json.dumps(jobs))
print(job if "--parsable" in args else f"Submitted batch job {{job}}")
"""


def _env(tmp_path: Path, **more) -> dict:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable))
    (fake / "sbatch").chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{fake}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_SLURM_STATE": str(tmp_path / "slurm.json"),
        "HF_DATASETS_CACHE": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **more,
    }


def test_slurm_array_then_dependent_merge_equals_one_run(sample_dir, tmp_path):
    models = tmp_path / "riveg"
    data, images = ["--data-dir", str(sample_dir)], ["--images", str(sample_dir / "images")]
    assert main(["baseline", "tiny-models", "--out", str(models), *data]) == 0
    assert main(["baseline", "plim-train", "--encoder", str(models / "tiny/encoder"), *data, "--knowledge",
                 str(sample_dir / "knowledge.zip"), "--out", str(models / "plim"), "--epochs", "1",
                 "--batch-size", "8", "--max-length", "96"]) == 0  # fmt: skip
    for stage, base in (("ve", "matcher"), ("vg", "grounder")):
        out = ["--out", str(models / stage), "--workers", "0"]
        assert main(["baseline", f"{stage}-train", "--base", str(models / "tiny" / base), *data, *images, *out]) == 0
    run_file = models / "run.yaml"
    one = yaml.safe_load(run_file.read_text())
    one["out"] = "single"
    (models / "single.yaml").write_text(yaml.safe_dump(one))
    env = _env(tmp_path, RUN_FILE=str(run_file), SHARDS="3")
    done = subprocess.run(["bash", str(CLUSTER / "submit.sh")], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = json.loads((tmp_path / "slurm.json").read_text())
    ran = [(j["script"], j["ok"]) for j in jobs]
    assert ran == [("riveg-shards.sbatch", True), ("riveg-merge.sbatch", True)], done.stderr[-3000:]
    assert jobs[0]["options"]["array"] == "0-2" and jobs[1]["options"]["dependency"] == "afterok:1"
    assert sorted(p.name for p in (models / "run").glob("shard-*")) == [f"shard-{i}-of-3" for i in range(3)]
    assert main(["run", "riveg", "--config", str(models / "single.yaml")]) == 0
    outputs = sorted(p.name for p in (models / "single").glob("*.jsonl"))
    assert "smner.jsonl" in outputs
    for name in outputs:
        assert (models / "run" / name).read_bytes() == (models / "single" / name).read_bytes(), name


def test_a_failed_shard_blocks_the_merge(sample_dir, tmp_path):
    env = _env(tmp_path, RUN_FILE=str(tmp_path / "missing.yaml"), SHARDS="2")
    subprocess.run(["bash", str(CLUSTER / "submit.sh")], env=env, capture_output=True, text=True, timeout=300)
    jobs = json.loads((tmp_path / "slurm.json").read_text())
    assert [(j["script"], j["ok"]) for j in jobs] == [("riveg-shards.sbatch", False), ("riveg-merge.sbatch", False)]


def test_plim_script_under_accelerate_with_the_cpu_config(sample_dir, tmp_path):
    from smner_bench.baselines import tiny

    encoder = tiny.save_encoder(tmp_path / "encoder", ["tweet"])
    env = _env(
        tmp_path,
        ACCELERATE_CONFIG=str(CLUSTER / "accelerate-cpu.yaml"),
        ENCODER=str(encoder),
        DATA=str(sample_dir),
        KNOWLEDGE=str(sample_dir / "knowledge.zip"),
        OUT_DIR=str(tmp_path / "plim"),
        DEVICE="cpu",
    )
    done = subprocess.run(
        ["bash", str(CLUSTER / "plim-8gpu.sbatch"), "--epochs", "1", "--max-length", "64", "--threads", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((tmp_path / "plim" / "history.json").read_text())
    assert (history["world_size"], history["per_process_batch"], history["global_batch"]) == (2, 2, 4)
    assert (tmp_path / "plim" / "best" / "model.pt").is_file()


def test_the_8_gpu_config_is_the_tested_one_with_8_processes_and_bf16():
    gpu, cpu = (yaml.safe_load((CLUSTER / f"accelerate-{n}.yaml").read_text()) for n in ("8gpu", "cpu"))
    assert {k for k in gpu if gpu[k] != cpu.get(k)} == {"num_processes", "mixed_precision"}
    assert (gpu["num_processes"], gpu["mixed_precision"]) == (8, "bf16") and cpu["num_processes"] == 2


@pytest.mark.parametrize("name", ["riveg-shards.sbatch", "riveg-merge.sbatch", "plim-8gpu.sbatch", "submit.sh"])
def test_scripts_are_strict_bash(name):
    text = (CLUSTER / name).read_text()
    assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", str(CLUSTER / name)]).returncode == 0
