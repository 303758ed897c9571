#!/bin/bash
# One device call for #11's GPU rows: Tunix (carried wheels) on the GPU's JAX, random weights of
# the real 270M shape, then `bench train` (SFT and GRPO step vs PeftTrainer / GRPOLearner) and
# `bench generate` (f32 vs Tunix's sampler, bf16 ours), each against the device's measured bounds.
# Needs: .gpu/grpo-xla (release binary), .gpu/rand270m (shapes.json, config, tokenizer), .whl/.
set -u
B=$PWD/.gpu/grpo-xla
export GRPO_XLA_HOME=/tmp/gxhome RUST_BACKTRACE=1 GRPO_XLA_GPU_PREALLOCATE=false GRPO_XLA_REF_PLATFORMS=cuda GRPO_XLA_REF_PYTHON=$(which python3)
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
{
step env
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
python3 -c 'import jax, flax, optax, tunix.rl.grpo.grpo_learner, tunix.sft.peft_trainer, qwix; print("jax", jax.__version__, "flax", flax.__version__, jax.devices())' 2>&1 | tail -3
NT=""; python3 -c 'import tunix.rl.grpo.grpo_learner' 2>/dev/null || NT=--no-tunix
python3 scripts/gpu/random_model.py .gpu/rand270m /tmp/rand270m
$B devices --device gpu
step bench train, recipe geometry, random weights
timeout -k 5 $(left 330) $B bench train --device gpu --config scripts/gpu/reasoning_270m_random.yaml --steps 3 $NT --json $OUT/train_270m_gpu.json; echo "rc=$?"
step bench generate f32 vs tunix
timeout -k 5 $(left 450) $B bench generate --device gpu --model /tmp/rand270m --batches 1,8,32,64 $NT --json $OUT/generate_270m_gpu.json; echo "rc=$?"
step bench generate bf16, ours only
timeout -k 5 $(left 520) $B bench generate --device gpu --model /tmp/rand270m --batches 1,8,32,64 --dtype bf16 --no-tunix --json $OUT/generate_270m_gpu_bf16.json; echo "rc=$?"
step end
} 2>&1 | tee $OUT/run4.log
