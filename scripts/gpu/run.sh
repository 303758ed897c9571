#!/bin/bash
# One device call: environment facts, plugin discovery, devices, smoke train x2, benches, 270M-shape probe.
set -u
B=$PWD/.gpu/grpo-xla
L=$OUT/main.log
export GRPO_XLA_HOME=/tmp/gxhome RUST_BACKTRACE=1
T0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - T0) )); }
step() { echo; echo "=== $* [t=$(( $(date +%s) - T0 ))s]"; }
{
step env
ldd --version | head -1; uname -r; nvidia-smi; nvcc --version | tail -2; which ptxas python3
python3 -m pip show jax jaxlib jax-cuda13-pjrt jax-cuda13-plugin 2>/dev/null | grep -E '^(Name|Version|Location)'
P=$(python3 -c 'import jax_plugins.xla_cuda13 as m, os; print(os.path.join(os.path.dirname(m.__file__), "xla_cuda_plugin.so"))' 2>&1); echo "plugin: $P"
ls -la "$P"; readelf -d "$P" | grep -iE 'rpath|runpath|needed'
ldd "$P" | grep -i 'not found'
step devices auto-discovery
timeout -k 5 90 $B devices --device gpu; rc=$?; echo "rc=$rc"
if [ $rc -ne 0 ]; then
  step devices with GRPO_XLA_GPU_PLUGIN and nvidia lib dirs on LD_LIBRARY_PATH
  export GRPO_XLA_GPU_PLUGIN=$P
  SP=$(dirname $(dirname $(dirname $P)))
  export LD_LIBRARY_PATH=$(ls -d $SP/nvidia/*/lib $SP/nvidia/cu13/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  timeout -k 5 90 $B devices --device gpu; echo "rc=$?"
fi
step smoke gpu run 1
time timeout -k 5 $(left 250) $B train --config configs/smoke.yaml --device gpu --output-dir /tmp/smoke_gpu; echo "rc=$?"
cp /tmp/smoke_gpu/metrics.jsonl $OUT/smoke_gpu_metrics.jsonl
step smoke gpu run 2 "(executable disk cache)"
timeout -k 5 $(left 300) $B train --config configs/smoke.yaml --device gpu --output-dir /tmp/smoke_gpu2; echo "rc=$?"
cp /tmp/smoke_gpu2/metrics.jsonl $OUT/smoke_gpu2_metrics.jsonl
step bench runtime, jax side on GPU
GRPO_XLA_REF_PYTHON=$PWD/scripts/gpu/pyref REF_JAX_PLATFORMS=cuda timeout -k 5 $(left 360) $B bench runtime --device gpu; echo "rc=$?"
step bench graph, jax side on GPU
GRPO_XLA_REF_PYTHON=$PWD/scripts/gpu/pyref REF_JAX_PLATFORMS=cuda timeout -k 5 $(left 450) $B bench graph --device gpu; echo "rc=$?"
step 270M-shape random weights, LoRA, 3 steps
timeout -k 5 $(left 570) $B train --config scripts/gpu/r270m.yaml --device gpu --output-dir /tmp/r270m; echo "rc=$?"
cp /tmp/r270m/metrics.jsonl $OUT/r270m_metrics.jsonl
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv
step end
} 2>&1 | tee $L
