#!/usr/bin/env bash
# Stages what goes to Kaggle, into target/kaggle/: the wheel as a dataset (wheel/) and the training
# notebook with its kernel metadata (notebook/), with YOUR_KAGGLE_USER replaced by $KAGGLE_USER.
# Then, with the Kaggle CLI (`pip install kaggle`, an API token in ~/.kaggle/kaggle.json):
#   kaggle datasets create -p target/kaggle/wheel      (later: kaggle datasets version -p ... -m MSG)
#   kaggle kernels push -p target/kaggle/notebook --accelerator TpuV5E8
# In the notebook, set WHEEL to /kaggle/input/grpo-xla-wheel/<the .whl> and CONFIG/RUN as needed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
user=${KAGGLE_USER:-YOUR_KAGGLE_USER}
wheel=$(ls dist/grpo_xla-*.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || { echo "no wheel in dist/: run scripts/build-portable.sh first" >&2; exit 1; }
out=target/kaggle
rm -rf "$out"
mkdir -p "$out/wheel" "$out/notebook"
cp "$wheel" "$out/wheel/"
sed "s/YOUR_KAGGLE_USER/$user/g" kaggle/wheel/dataset-metadata.json > "$out/wheel/dataset-metadata.json"
cp notebooks/grpo_xla_train.ipynb "$out/notebook/"
sed "s/YOUR_KAGGLE_USER/$user/g" kaggle/notebook/kernel-metadata.json > "$out/notebook/kernel-metadata.json"
echo "staged: $out/wheel ($(basename "$wheel")), $out/notebook"
