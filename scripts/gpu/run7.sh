#!/bin/bash
# One device call for #11 after each prompt's G samples started sharing one prefill
# (2026-11-27, late): what run6.sh left unrun. Decode with XLA's Triton GEMMs on (the default)
# and off (cuBLAS for every matmul: at batch 1 the profile of run6 found the decode matmuls'
# Triton kernels reaching a quarter of the bandwidth), bf16 decode after the layout changes, and
# the GRPO step at 16 prompts x 8 with the shared prefill. Ours only: Tunix's sampler was timed
# on the last visit, and the ratios there stand. Each part has a deadline.
# Needs: .gpu/grpo-xla (release binary), .gpu/rand270m (shapes.json, config, tokenizer).
# DEV=cpu runs the same commands on the CPU plugin (a dry run of the script's arguments).
set -u
B=$PWD/.gpu/grpo-xla
DEV=${DEV:-gpu}
export RUST_BACKTRACE=1 GRPO_XLA_GPU_PREALLOCATE=false
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
{
step setup
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 scripts/gpu/random_model.py .gpu/rand270m /tmp/rand270m
M="--device $DEV --model /tmp/rand270m --no-tunix"

step decode f32, Triton GEMMs on, then off
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 100) $B bench generate $M --batches 1,8,32 --steps 64 --json $OUT/decode_triton_on.json; echo "rc=$?"
GRPO_XLA_HOME=/tmp/h2 XLA_FLAGS=--xla_gpu_enable_triton_gemm=false timeout -k 5 $(left 190) $B bench generate $M --batches 1,8,32 --steps 64 --json $OUT/decode_triton_off.json; echo "rc=$?"
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 230) $B bench generate $M --batches 1,8,32 --steps 64 --json $OUT/decode_triton_on_again.json; echo "rc=$?"

step decode bf16
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 310) $B bench generate $M --batches 1,8,32 --steps 64 --dtype bf16 --json $OUT/generate_270m_gpu_bf16.json; echo "rc=$?"

step bench train, GRPO at 16 prompts x 8
timeout -k 5 $(left 420) $B bench train --device $DEV --config scripts/gpu/reasoning_270m_random_b128.yaml --phases grpo --steps 3 --no-tunix --json $OUT/train_270m_gpu_b128.json; echo "rc=$?"
step end
} 2>&1 | tee $OUT/run7.log
