#!/usr/bin/env bash
# Runs both notebooks headless on CPU with the smoke config (so they cannot rot): papermill sets
# their parameters, the kernel installs the portable wheel from dist/ (scripts/build-portable.sh)
# and calls grpo-xla as a Kaggle session would. Executed copies go to target/notebooks/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/tool_venv.sh
source scripts/lib/tool_venv.sh
tool_venv notebooks "papermill==2.6.0 ipykernel==7.4.0"
wheel=$(ls dist/grpo_xla-*.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || { echo "no wheel in dist/: run scripts/build-portable.sh first" >&2; exit 1; }
out="$ROOT/target/notebooks"
rm -rf "$out"
mkdir -p "$out"
run="$out/run"
PATH="$venv/bin:$PATH" papermill --kernel python3 notebooks/grpo_xla_train.ipynb "$out/train.ipynb" \
  -p DEVICE cpu -p CONFIG configs/smoke.yaml -p WHEEL "$ROOT/$wheel" -p REPO "$ROOT" -p RUN "$run" \
  -p EVAL_DATA data/synthetic_reasoning_set.jsonl -p EVAL_LIMIT 4
PATH="$venv/bin:$PATH" papermill --kernel python3 notebooks/grpo_xla_inference.ipynb "$out/inference.ipynb" \
  -p DEVICE cpu -p WHEEL "$ROOT/$wheel" -p REPO "$ROOT" -p MODEL "$run/checkpoints/step_000004/model" \
  -p MAX_NEW_TOKENS 16
echo "executed notebooks: $out/train.ipynb, $out/inference.ipynb"
