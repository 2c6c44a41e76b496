#!/usr/bin/env bash
# The benchmark suite of issue 7 (CPU, about 10 minutes on 2 cores): items 1, 2, 4, 5, and item 3
# when a finished study's benchmarks folder is given:
#   benchmarks/run_all.sh                                  # CSVs into benchmarks/results/
#   benchmarks/run_all.sh --study-results results/benchmarks --study-wall 1234
# Any option goes to benchmarks/run.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
exec "$PY" benchmarks/run.py "$@"
