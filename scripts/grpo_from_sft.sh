#!/usr/bin/env bash
# A GRPO setting tried from the recipe's supervised result, without redoing SFT: copies the SFT
# checkpoint (step 128) and sft_model/ of runs/reasoning_270m into a new run folder, runs GRPO
# there with CONFIG (a copy of configs/reasoning_270m.yaml with other GRPO settings), then
# evaluates the base model, the SFT model and the result on the development split (never on the eval split).
#   scripts/grpo_from_sft.sh configs/experiments/grpo_lr1e-4.yaml runs/grpo_lr1e-4
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
config=$1
run=$2
recipe=${RECIPE_RUN:-runs/reasoning_270m}
bin="$ROOT/target/release/grpo-xla"
test -f "$recipe/checkpoints/step_000128/state.json" || {
  echo "$recipe/checkpoints/step_000128 is missing: run scripts/reasoning_270m.sh first" >&2
  exit 1
}
if [ ! -d "$run/checkpoints" ]; then
  mkdir -p "$run/checkpoints"
  cp -r "$recipe/checkpoints/step_000128" "$run/checkpoints/"
  cp -r "$recipe/sft_model" "$run/"
  printf 'step_000128' > "$run/checkpoints/latest"
fi
"$bin" train --config "$config" --output-dir "$run" --resume
"$bin" eval --run "$run" --data data/reasoning_dev.jsonl \
  --limit "${EVAL_LIMIT:-160}" --batch 32 --max-new-tokens 128 --json "$run/dev_eval.json"
