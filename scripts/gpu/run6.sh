#!/bin/bash
# One device call for #11, after the decode loop's layout changes of 2026-11-26: decode f32 vs
# Tunix's sampler again (64 steps, so a batch-1 step is timed over more than a few ms), where a
# decode step's fixed ~1 ms goes (the optimized HLO and thunks of the decode program, and every
# kernel's time under Nsight Compute, from the executable cache so no compile-time kernel is
# counted), the full fine-tune's SFT and GRPO steps vs Tunix, bf16 decode, and the GRPO step at
# 128 rows. Each part has a deadline so the call ends inside its limit; later parts are extras.
# As run on 2026-11-27 (writeup/gpu_check, "Third visit"): the decode-vs-Tunix part ran out of
# its deadline at 64 steps and was re-run at 32 on the same machine; the bf16 part ran out too.
# Needs: .gpu/grpo-xla (release binary), .gpu/rand270m (shapes.json, config, tokenizer), .whl/.
# DEV=cpu runs the same commands on the CPU plugin (a dry run of the script's arguments).
set -u
B=$PWD/.gpu/grpo-xla
DEV=${DEV:-gpu}
export RUST_BACKTRACE=1 GRPO_XLA_GPU_PREALLOCATE=false GRPO_XLA_REF_PLATFORMS=${REF:-cuda}
export GRPO_XLA_REF_PYTHON=${GRPO_XLA_REF_PYTHON:-$(which python3)}
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
{
step setup
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
NT=""; "$GRPO_XLA_REF_PYTHON" -c 'import tunix.rl.grpo.grpo_learner' 2>/dev/null || NT=--no-tunix
python3 scripts/gpu/random_model.py .gpu/rand270m /tmp/rand270m
M="--device $DEV --model /tmp/rand270m"

step decode f32 vs Tunix, 64 steps
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 150) $B bench generate $M --batches 1,8,32 --steps 64 $NT --json $OUT/generate_270m_gpu.json; echo "rc=$?"

step decode program at batch 8: optimized HLO and thunks, then every kernel under ncu
FLAGS="--xla_dump_to=/tmp/dump --xla_dump_hlo_as_text"
GRPO_XLA_HOME=/tmp/h3 XLA_FLAGS=$FLAGS timeout -k 5 $(left 190) $B bench generate $M --batches 8 --steps 8 --no-tunix; echo "rc=$?"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$NCU" ]; then
  GRPO_XLA_HOME=/tmp/h3 XLA_FLAGS=$FLAGS timeout -k 5 $(left 260) "$NCU" --metrics gpu__time_duration.sum \
    --cache-control none --clock-control none --launch-count 6000 -f -o /tmp/decode \
    $B bench generate $M --batches 8 --steps 8 --no-tunix > /tmp/ncu_run.log 2>&1; echo "ncu rc=$?"; tail -5 /tmp/ncu_run.log
  "$NCU" -i /tmp/decode.ncu-rep --csv --page raw --print-units base --metrics gpu__time_duration.sum > /tmp/ncu_kernels.csv 2>&1
  "$NCU" -i /tmp/decode.ncu-rep --print-summary per-kernel --csv > /tmp/ncu_summary.csv 2>&1
  wc -l /tmp/ncu_kernels.csv /tmp/ncu_summary.csv
fi
(cd /tmp && tar czf $OUT/decode_profile.tgz ncu_kernels.csv ncu_summary.csv ncu_run.log \
  $(cd /tmp && ls dump/*after_optimizations.txt dump/*thunk* 2>/dev/null)); ls -la $OUT

step bench train, full fine-tune, recipe geometry
timeout -k 5 $(left 430) $B bench train --device $DEV --config scripts/gpu/reasoning_270m_random_full.yaml --steps 3 $NT --json $OUT/train_270m_gpu_full.json; echo "rc=$?"

step decode bf16, ours only
GRPO_XLA_HOME=/tmp/h1 timeout -k 5 $(left 490) $B bench generate $M --batches 1,8,32,64 --steps 64 --dtype bf16 --no-tunix --json $OUT/generate_270m_gpu_bf16.json; echo "rc=$?"

step bench train, GRPO at 16 prompts x 8
timeout -k 5 $(left 570) $B bench train --device $DEV --config scripts/gpu/reasoning_270m_random_b128.yaml --phases grpo --steps 3 $NT --json $OUT/train_270m_gpu_b128.json; echo "rc=$?"
step end
} 2>&1 | tee $OUT/run6.log
