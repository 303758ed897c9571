#!/bin/bash
# Second call: top-1 smoke (deterministic tokens) for a CPU-vs-GPU numeric comparison; 270M-shape rollout scaling.
set -u
B=$PWD/.gpu/grpo-xla
export GRPO_XLA_HOME=/tmp/gxhome RUST_BACKTRACE=1
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
{
step smoke top1 gpu
time timeout -k 5 $(left 150) $B train --config scripts/gpu/smoke_top1.yaml --device gpu --output-dir /tmp/top1; echo "rc=$?"
cp /tmp/top1/metrics.jsonl $OUT/top1_gpu_metrics.jsonl
for c in r270m_b8 r270m_b64 r270m_b32_n32; do
  step $c
  time timeout -k 5 $(left 560) $B train --config .gpu/$c.yaml --device gpu --output-dir /tmp/$c; echo "rc=$?"
  cp /tmp/$c/metrics.jsonl $OUT/${c}_metrics.jsonl
  nvidia-smi --query-gpu=memory.used --format=csv,noheader
done
step end
} 2>&1 | tee $OUT/main2.log
