#!/usr/bin/env bash
# Stages what goes to Kaggle, into target/kaggle/: the wheel as a dataset (wheel/), the training
# notebook with its kernel metadata (notebook/), and the model card with its metadata (model/),
# with YOUR_KAGGLE_USER replaced by $KAGGLE_USER. With MODEL_RUN=RUN_DIR the run's latest checkpoint
# is exported into the model instance too (model/instance/orbax/ and model/instance/safetensors/).
# Then, with the Kaggle CLI (`pip install kaggle`, an API token in ~/.kaggle/kaggle.json):
#   kaggle datasets create -p target/kaggle/wheel      (later: kaggle datasets version -p ... -m MSG)
#   kaggle kernels push -p target/kaggle/notebook --accelerator TpuV5E8
#   kaggle models create -p target/kaggle/model; kaggle models instances create -p target/kaggle/model/instance
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
mkdir -p "$out/model/instance"
sed "s/YOUR_KAGGLE_USER/$user/g" kaggle/model/model-metadata.json > "$out/model/model-metadata.json"
sed "s/YOUR_KAGGLE_USER/$user/g" kaggle/model/model-instance-metadata.json > "$out/model/instance/model-instance-metadata.json"
sed "s/YOUR_KAGGLE_USER/$user/g" kaggle/model/README.md > "$out/model/instance/README.md"
if [ -n "${MODEL_RUN:-}" ]; then
  bin=${GRPO_XLA_BIN:-target/release/grpo-xla}
  "$bin" export --run "$MODEL_RUN" --format orbax --out "$out/model/instance/orbax"
  "$bin" export --run "$MODEL_RUN" --format safetensors --out "$out/model/instance/safetensors"
fi
echo "staged: $out/wheel ($(basename "$wheel")), $out/notebook, $out/model${MODEL_RUN:+ (with $MODEL_RUN exported)}"
