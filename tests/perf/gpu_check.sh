#!/usr/bin/env bash
cd "$(dirname "$0")/../.." || exit 1; PY=.venv/bin/python; if [ ! -x "$PY" ]; then PY=python3; if [ -d .whl ]; then python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || exit 1; fi; fi
PYTHONUNBUFFERED=1 exec "$PY" tests/perf/gpu_check.py --device cuda "$@"
