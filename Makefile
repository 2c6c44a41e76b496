# Two commands for a fresh clone: `make study` (the embedded default study) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: setup study teachers test test-fast lint dryrun clean-results

# Bytecode: where PYTHONDONTWRITEBYTECODE is set (as in many containers) Python never caches it,
# and every job of a study would recompile the torch stack it imports (~15 CPU s per job). `make
# study` and `make test` clear it, so the first job to import a module writes its bytecode and the
# others reuse it (a few thousand modules, not the venv's 19,000); `make setup`, for snakemake run
# by hand (e.g. on SLURM, with the variable set), compiles the whole venv once, in parallel.
# -x: a torch test helper written for Python 3.12 that 3.11 cannot parse. The package too (editable).
# torch and torchvision go in first, on their own, at requirements.txt's pins:
# Copied from requirements.txt
$(BIN)/snakemake: requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet --no-compile -r requirements.txt
	$(BIN)/pip install --quiet --no-compile --no-deps -r requirements-test.txt
	$(BIN)/pip install --quiet --no-compile --no-deps -e .
	touch $@

$(VENV)/.compiled: $(BIN)/snakemake
	$(BIN)/python -m compileall -q -j 0 -x 'torch/testing/_internal/py312_intrinsics' $(VENV)/lib mvlm_distill
	touch $@

setup: $(VENV)/.compiled
	@echo "Environment ready: source $(VENV)/bin/activate"

study: $(BIN)/snakemake
	PYTHONDONTWRITEBYTECODE= HF_HUB_OFFLINE=1 $(BIN)/snakemake --profile profiles/local --cores $(CORES)
	@echo "Index report: results/reports/index.html"

# The shipped toy teachers (teachers/), remade by their recipe: not part of `make study` (the study
# takes them as given, as the paper takes its teachers). About 75 CPU-minutes for both with their second seeds, one thread each
# (clip ~10 and siglip2 ~27 per seed on a 2-core Intel Xeon; teachers/*/mvlm_teacher.json records each).
teachers: $(BIN)/snakemake
	PYTHONDONTWRITEBYTECODE= OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m mvlm_distill.models.recipe --family clip --out teachers/toy-clip
	PYTHONDONTWRITEBYTECODE= OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(BIN)/python -m mvlm_distill.models.recipe --family siglip2 --out teachers/toy-siglip2

# everything CI runs: unit tests, the end-to-end workflow runs (slow) and the SLURM cluster tests
test: $(BIN)/snakemake
	PYTHONDONTWRITEBYTECODE= HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra

# the unit tests only, while editing: no workflow run, no SLURM cluster
test-fast: $(BIN)/snakemake
	PYTHONDONTWRITEBYTECODE= HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra -m "not slow and not slurm"

lint: $(BIN)/snakemake
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

dryrun: $(BIN)/snakemake
	$(BIN)/snakemake -n --quiet rules
