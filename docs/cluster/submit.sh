#!/bin/bash
# RiVEG inference on a SLURM cluster: SHARDS array tasks, then the merge, which runs only if all of them succeed.
#   RUN_FILE=run.yaml SHARDS=8 bash submit.sh
set -euo pipefail
here=$(dirname "$0")
export RUN_FILE=${RUN_FILE:-run.yaml} SHARDS=${SHARDS:-8}
jid=$(sbatch --parsable --export=ALL --array=0-$((SHARDS - 1)) "$here/riveg-shards.sbatch")
sbatch --export=ALL --dependency=afterok:"${jid%%;*}" "$here/riveg-merge.sbatch"
