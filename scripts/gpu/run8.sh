#!/bin/bash
# One device call for #11: the GRPO step at 16 prompts x 8 (LoRA) against Tunix's GRPOLearner on
# the same H200, the row run6.sh's deadline cut. Written 2026-11-27, late, and not run yet: no
# machine was lent for it that session. Needs: .gpu/grpo-xla (release
# binary), .gpu/rand270m (shapes.json, config, tokenizer), .whl/ (Tunix and what JAX there lacks).
# DEV=cpu runs the same command on the CPU plugin (a dry run of the script's arguments).
set -u
B=$PWD/.gpu/grpo-xla
DEV=${DEV:-gpu}
export RUST_BACKTRACE=1 GRPO_XLA_GPU_PREALLOCATE=false GRPO_XLA_REF_PLATFORMS=${REF:-cuda}
export GRPO_XLA_REF_PYTHON=${GRPO_XLA_REF_PYTHON:-$(which python3)} PYTHONUNBUFFERED=1
T0=$(date +%s)
{
echo "=== setup"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
python3 scripts/gpu/random_model.py .gpu/rand270m /tmp/rand270m
echo "=== bench train, GRPO at 16 prompts x 8, ours and Tunix [t=$(( $(date +%s) - T0 ))s]"
timeout -k 5 470 $B bench train --device $DEV --config scripts/gpu/reasoning_270m_random_b128.yaml --phases grpo --steps 3 --json $OUT/train_270m_gpu_b128_tunix.json; echo "rc=$?"
echo "=== end [t=$(( $(date +%s) - T0 ))s]"
} 2>&1 | tee $OUT/run8.log
