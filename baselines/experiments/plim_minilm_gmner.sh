#!/usr/bin/env bash
# The Twitter-GMNER runs of baselines/results/plim-minilm-gmner.*: plim_minilm.sh on gmner.
# Usage: baselines/experiments/plim_minilm_gmner.sh [EPOCHS]
exec "$(dirname "$0")/plim_minilm.sh" gmner "$@"
