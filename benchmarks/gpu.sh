#!/usr/bin/env bash
# GPU check of issue 7: real-size student throughput (samples/s) and peak GPU memory per method at
# batch 256 with bf16 autocast, cached vs online teacher, and embedding throughput; one CSV
# (benchmarks/results/gpu.csv). Self-contained, under 5 minutes on one GPU. Without a GPU it says so
# and exits 0. Options go to benchmarks/gpu_bench.py (--help); e.g. a CPU check that it runs:
#   benchmarks/gpu.sh --device cpu --batch 8 --steps 2 --vocab 8000 --context 16 --embed-batch 16 --out /tmp/gpu-check.csv
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
exec "$PY" benchmarks/gpu_bench.py "$@"
