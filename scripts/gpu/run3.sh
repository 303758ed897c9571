#!/bin/bash
# Third call: is the CPU/GPU gap TF32? (top-1 smoke with TF32 off); where the 270M run's wall time goes.
set -u
B=$PWD/.gpu/grpo-xla
export RUST_BACKTRACE=1
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
stamp() { python3 -u -c 'import sys,time,os; s=float(os.environ["S"]); [print(f"{time.time()-s:8.2f} {l}", end="", flush=True) for l in sys.stdin]'; }
{
step smoke top1 gpu, TF32 off
GRPO_XLA_HOME=/tmp/h1 NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS=--xla_gpu_enable_triton_gemm=false timeout -k 5 $(left 150) $B train --config scripts/gpu/smoke_top1.yaml --device gpu --output-dir /tmp/top1_notf32; echo "rc=$?"
cp /tmp/top1_notf32/metrics.jsonl $OUT/top1_notf32_metrics.jsonl
step bench runtime, TF32 off
GRPO_XLA_HOME=/tmp/h1 GRPO_XLA_REF_PYTHON=$PWD/scripts/gpu/pyref REF_JAX_PLATFORMS=cuda NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS=--xla_gpu_enable_triton_gemm=false timeout -k 5 60 $B bench runtime --device gpu --matmul-iters 200; echo "rc=$?"
step bench runtime default
GRPO_XLA_HOME=/tmp/h2 GRPO_XLA_REF_PYTHON=$PWD/scripts/gpu/pyref REF_JAX_PLATFORMS=cuda timeout -k 5 60 $B bench runtime --device gpu --matmul-iters 200; echo "rc=$?"
step r270m_b8 timestamped, fresh cache
S=$(date +%s.%N); export S
GRPO_XLA_HOME=/tmp/h3 timeout -k 5 $(left 400) $B train --config scripts/gpu/r270m_b8.yaml --device gpu --output-dir /tmp/b8t 2>&1 | stamp; echo "rc=${PIPESTATUS[0]}"
du -sh /tmp/b8t/checkpoints/* ; ls -la /tmp/b8t/checkpoints/*/ | head -20
step r270m_b8 timestamped, warm disk cache
S=$(date +%s.%N); export S
GRPO_XLA_HOME=/tmp/h3 timeout -k 5 $(left 540) $B train --config scripts/gpu/r270m_b8.yaml --device gpu --output-dir /tmp/b8t2 2>&1 | stamp; echo "rc=${PIPESTATUS[0]}"
step end
} 2>&1 | tee $OUT/main3.log
