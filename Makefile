# sslctl developer commands. `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench bench-pruning gpu-check clean slurm-up slurm-down

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sslctl pretrain recipes/intl.yaml

test: $(STAMP)
	scripts/offline-data.sh
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check sslctl tests
	$(BIN)/ruff format --check sslctl tests

clean:
	rm -rf $(VENV) .sslctl mlflow.db mlruns .pytest_cache

bench: $(STAMP)
	$(BIN)/sslctl bench --out bench.json

# TPE sweep with and without median pruning: epochs trained, best point (about 3 minutes)
bench-pruning: $(STAMP)
	$(BIN)/python benchmarks/bench_pruning.py

# on a CUDA machine: the GPU-only tests (pinned-memory streamed batches, every method under
# bf16 autocast) and the GPU readiness benchmark (figures in gpu_check.json)
gpu-check: $(STAMP)
	PYTHON=$(BIN)/python scripts/gpu-check.sh

# two-node SLURM cluster (slurmctld, two slurmd, munge, slurmdbd + MariaDB) on this machine; root
slurm-up:
	scripts/slurm-local.sh start

slurm-down:
	scripts/slurm-local.sh stop
