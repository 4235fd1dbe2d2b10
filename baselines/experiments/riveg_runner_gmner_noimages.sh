#!/usr/bin/env bash
# The RiVEG runner on the whole Twitter-GMNER v2.0 test split as far as this machine allows: the released
# captions and gpt-3.5-turbo knowledge replayed by tweet id, the MiniLM PLIM checkpoint of plim_minilm.sh gmner,
# and NO tweet images (they are not distributed with the annotations), so VE judges every entity "not in the
# image" without running a model and VG never runs (the tiny random VE/VG models only fill the run file).
# Checks that the runner's mner.jsonl is byte-identical to plim-predict's, scores MNER and the all-null GMNER
# floor, records stage timings. Writes baselines/results/riveg-runner-gmner-noimages.json.
# Usage: baselines/experiments/riveg_runner_gmner_noimages.sh   (after plim_minilm.sh gmner)
set -euo pipefail
BIN=${BIN:-.venv/bin}
DATA=$(cd "${SMNER_BENCH_DATA:-../shared/data}" && pwd)
OUT=${OUT:-build/experiments/riveg-runner-gmner-noimages}
PLIM=$(cd "${PLIM:-build/experiments/plim-minilm-gmner/knowledge}" && pwd)
# the empty image folder lies beside the run's folder: a folder a command owns may not hold its inputs
rm -rf "$OUT" "$OUT-no-images" && mkdir -p "$OUT-no-images"
$BIN/smner-bench baseline tiny-models --data-dir "$DATA/twitter-gmner/v2.0" --images "$OUT-no-images" --out "$OUT"
$BIN/smner-bench sample --out "$OUT/sample"   # VE/VG placeholders are trained on the synthetic sample's images
$BIN/smner-bench baseline ve-train --base "$OUT/tiny/matcher" --data-dir "$OUT/sample" --images "$OUT/sample/images" \
    --out "$OUT/ve"
$BIN/smner-bench baseline vg-train --base "$OUT/tiny/grounder" --data-dir "$OUT/sample" --images "$OUT/sample/images" \
    --out "$OUT/vg"
cat > "$OUT/run.yaml" <<YAML
dataset: gmner
data_dir: $DATA/twitter-gmner/v2.0
split: test
images: ../$(basename "$OUT")-no-images
out: run
captions: {captioner: "replay:$DATA/captions/mplug-owl_test.txt,$DATA/captions/BLIP2_15.txt,$DATA/captions/BLIP2_17.txt"}
knowledge: {llm: "replay:$DATA/llm-knowledge/twitter-gmner_gpt-3.5-turbo.zip"}
plim: {checkpoint: $PLIM/best}
ve: {checkpoint: ve}
vg: {checkpoint: vg}
YAML
$BIN/smner-bench run riveg --config "$OUT/run.yaml" --threads 2
$BIN/smner-bench score "$OUT/run/gmner.jsonl" --dataset gmner --split test --data-dir "$DATA/twitter-gmner/v2.0" \
    --json "$OUT/report.json"
$BIN/python - "$OUT" "$PLIM/test.jsonl" baselines/results/riveg-runner-gmner-noimages.json <<'PY'
import json, os, platform, sys
from pathlib import Path
import torch
out = Path(sys.argv[1])
report = json.load(open(out / "report.json"))["results"]
shard = out / "run" / "shard-0-of-1"
r = {
    "what": "runner on Twitter-GMNER v2.0 test, released captions + gpt-3.5 knowledge replayed, MiniLM PLIM, no images",
    "mner_identical_to_plim_predict": (out / "run" / "mner.jsonl").read_bytes() == Path(sys.argv[2]).read_bytes(),
    "mner": {k: report["mner"][k] for k in ("precision", "recall", "f1", "tp", "pred", "gold")},
    "gmner_all_null_boxes": {k: report["gmner"][k] for k in ("precision", "recall", "f1", "tp", "pred", "gold")},
    "note": "no images on this machine: every entity is judged not in the image, so GMNER counts only the "
            "correct entities whose gold is also not in the image (a floor, not a RiVEG result)",
    "stage_seconds": {p.stem: json.loads(p.read_text())["seconds"] for p in sorted(shard.glob("*.json"))},
    "machine": {"cores": os.cpu_count(), "gpu": torch.cuda.is_available(), "torch": torch.__version__,
                "platform": platform.platform()},
    "reproduce": "baselines/experiments/riveg_runner_gmner_noimages.sh",
}
from smner_bench.benchmark.safe_output import write_json
write_json(sys.argv[3], r, inputs=[sys.argv[1], sys.argv[2]])
print(json.dumps(r, indent=1))
PY
