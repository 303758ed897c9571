#!/bin/bash
# Second device call for #11: where a GPU decode step's fixed ~1 ms goes (the step time barely
# grows from batch 1 to 64, so it is overhead, not bytes): the same decode with XLA's command
# buffers (CUDA graphs) extended to while loops and conditionals; then Tunix's sampler timed as
# ours is (best of three calls; run4 timed one call each and gave a negative decode rate at B=1).
set -u
B=$PWD/.gpu/grpo-xla
export RUST_BACKTRACE=1 GRPO_XLA_GPU_PREALLOCATE=false GRPO_XLA_REF_PLATFORMS=cuda GRPO_XLA_REF_PYTHON=$(which python3)
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
{
step setup
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
python3 scripts/gpu/random_model.py .gpu/rand270m /tmp/rand270m
step decode, XLA defaults
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 70) $B bench generate --device gpu --model /tmp/rand270m --batches 1,8,32 --no-tunix --json $OUT/decode_default.json; echo "rc=$?"
step decode, command buffers with WHILE and CONDITIONAL
GRPO_XLA_HOME=/tmp/h2 XLA_FLAGS=--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL timeout -k 5 $(left 120) $B bench generate --device gpu --model /tmp/rand270m --batches 1,8,32 --no-tunix --json $OUT/decode_cmdbuf.json; echo "rc=$?"
step decode f32 vs Tunix, best of three calls each
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 255) $B bench generate --device gpu --model /tmp/rand270m --batches 1,8,32 --json $OUT/generate_270m_gpu.json; echo "rc=$?"
step end
} 2>&1 | tee $OUT/run5.log
