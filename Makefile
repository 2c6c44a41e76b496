# Two commands for a fresh clone: `make study` (the embedded default study) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: setup study test test-fast lint dryrun clean-results

# --no-compile: byte-compiling every installed module (torch's thousands) took longer than the
# install; Python compiles the modules a run imports on first use and keeps them
$(BIN)/snakemake: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet --no-compile -r requirements.txt
	$(BIN)/pip install --quiet --no-compile --no-deps -e .
	touch $@

setup: $(BIN)/snakemake
	@echo "Environment ready: source $(VENV)/bin/activate"

study: $(BIN)/snakemake
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --profile profiles/local --cores $(CORES)
	@echo "Index report: results/reports/index.html"

# everything CI runs: unit tests, the end-to-end workflow runs (slow) and the SLURM cluster tests
test: $(BIN)/snakemake
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra

# the unit tests only, while editing: no workflow run, no SLURM cluster
test-fast: $(BIN)/snakemake
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra -m "not slow and not slurm"

lint: $(BIN)/snakemake
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

dryrun: $(BIN)/snakemake
	$(BIN)/snakemake -n --quiet rules
