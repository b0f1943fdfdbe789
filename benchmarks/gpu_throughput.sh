#!/usr/bin/env bash
# The pretraining-throughput table on one GPU, prepared to finish in under 5 minutes:
# electra-small and electra-base at sequence length 128, float32 and AMP (mixed
# bfloat16) + XLA, ours against transformers' PyTorch step on the same GPU, MFU
# against the GPU's measured bf16/float32 matmul peak.
#
#   bash benchmarks/gpu_throughput.sh                 # .venv/bin/python, results in ./gpu-results
#   PYTHON=python3 OUT=/tmp/out bash benchmarks/gpu_throughput.sh
#
# Goals (issue "Performance"): electra-small >= 18,000 seq/s; electra-base >= 2,500 seq/s
# and >= 40% MFU. Record the printed markdown tables in benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 KERAS_BACKEND=tensorflow
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PYTHON" -c "import tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); print('TensorFlow GPUs:', gpus); assert gpus, 'TensorFlow sees no GPU'"
# Large batches keep the GPU busy; XLA compiles each model once (about a minute for Base).
timeout 140 "$PYTHON" benchmarks/pretraining_throughput.py --models electra-small --batch-size 1024 \
    --variants float32,mixed_bfloat16_xla --steps 10 --repeats 3 --warmup 3 --markdown \
    --json "$OUT/electra-small.json" | tee "$OUT/electra-small.txt"
timeout 140 "$PYTHON" benchmarks/pretraining_throughput.py --models electra-base --batch-size 256 \
    --variants float32,mixed_bfloat16_xla --steps 10 --repeats 3 --warmup 3 --markdown \
    --json "$OUT/electra-base.json" | tee "$OUT/electra-base.txt"
