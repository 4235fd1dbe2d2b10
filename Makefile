# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := build/demo
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: demo test test-fast install install-baselines install-dev lint perf clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-baselines: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[baselines]'

install-dev: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,baselines]'

# The main job on the embedded default: write the synthetic sample in the raw release formats (and a sample
# submission with four deliberate mistakes), build the smner config from it (images, knowledge, captions),
# export it, read the export back with plain datasets.load_dataset, print the statistics, then validate and
# score the sample submission against the raw files and against the export. Then the whole RiVEG chain with
# tiny random models: train PLIM, VE and VG briefly on the sample, run captions -> knowledge -> PLIM ->
# expansion -> VE -> VG -> SAM on its test split and score the SMNER submission it writes (numbers near zero:
# the models are random; the point is that every stage runs and the result is a valid submission).
demo: install-baselines
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/smner-bench sample --out $(DEMO)/sample
	$(BIN)/smner-bench prepare smner --data-dir $(DEMO)/sample --image-dir $(DEMO)/sample/images \
	    --knowledge $(DEMO)/sample/knowledge.zip --captions $(DEMO)/sample/captions \
	    --cache-dir $(DEMO)/cache --out $(DEMO)/export
	HF_DATASETS_DISABLE_PROGRESS_BARS=1 $(BIN)/python -c "import datasets; ds = datasets.load_dataset('$(DEMO)/export', 'smner', cache_dir='$(DEMO)/cache'); print(ds); e = ds['train'][0]; print(e['id'], ' '.join(e['tokens']), e['image'].size, [(x['text'], x['type'], x['boxes'], len(x['masks'])) for x in e['entities']])"
	$(BIN)/smner-bench stats smner --data-dir $(DEMO)/sample --image-dir $(DEMO)/sample/images --cache-dir $(DEMO)/cache
	$(BIN)/smner-bench validate $(DEMO)/sample/predictions-test.jsonl --dataset smner --split test --gold $(DEMO)/export
	$(BIN)/smner-bench score $(DEMO)/sample/predictions-test.jsonl --dataset smner --split test \
	    --data-dir $(DEMO)/sample --ci --json $(DEMO)/report.json
	@echo "report written to $(DEMO)/report.json"
	$(BIN)/smner-bench baseline tiny-models --dataset smner --data-dir $(DEMO)/sample --out $(DEMO)/riveg
	$(BIN)/smner-bench baseline plim-train --encoder $(DEMO)/riveg/tiny/encoder --dataset smner \
	    --data-dir $(DEMO)/sample --knowledge $(DEMO)/sample/knowledge.zip --out $(DEMO)/riveg/plim \
	    --epochs 1 --batch-size 8 --max-length 128
	for split in train validation; do $(BIN)/smner-bench baseline expand --gold-entities --dataset smner \
	    --split $$split --data-dir $(DEMO)/sample --captions $(DEMO)/sample/captions \
	    --llm transformers:$(DEMO)/riveg/tiny/llm --max-new-tokens 8 --cache $(DEMO)/riveg/answers.jsonl \
	    -o $(DEMO)/riveg/expressions-$$split.jsonl || exit 1; done
	cat $(DEMO)/riveg/expressions-train.jsonl $(DEMO)/riveg/expressions-validation.jsonl > $(DEMO)/riveg/expressions.jsonl
	$(BIN)/smner-bench baseline ve-train --base $(DEMO)/riveg/tiny/matcher --dataset smner \
	    --data-dir $(DEMO)/sample --images $(DEMO)/sample/images --expressions $(DEMO)/riveg/expressions.jsonl \
	    --out $(DEMO)/riveg/ve
	$(BIN)/smner-bench baseline vg-train --base $(DEMO)/riveg/tiny/grounder --dataset smner \
	    --data-dir $(DEMO)/sample --images $(DEMO)/sample/images --expressions $(DEMO)/riveg/expressions.jsonl \
	    --out $(DEMO)/riveg/vg
	$(BIN)/smner-bench run riveg --config $(DEMO)/riveg/run.yaml
	$(BIN)/smner-bench score $(DEMO)/riveg/run/smner.jsonl --dataset smner --split test --data-dir $(DEMO)/sample

lint: install-dev
	$(BIN)/ruff check .

test: install-dev lint
	$(BIN)/python -m pytest -q

# A developer's quick run (under a minute): everything but the tests marked slow in tests/conftest.py (real data,
# torch models, launchers, the browser, fuzz campaigns). `make test` and CI run everything.
test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not slow"

perf: install
	$(BIN)/python tests/perf/loaders_perf.py
	$(BIN)/python tests/perf/scorer_perf.py

clean:
	rm -rf build dist *.egg-info
