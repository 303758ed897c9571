#!/usr/bin/env bash
# The main job: set everything up, then a short real run of the recipe on Gemma 3 270M with LoRA
# on the CPU (configs/quickstart.yaml: a supervised warm start, then GRPO; about 10 minutes on
# 2 cores), then greedy answers of the base model, the SFT result and the final model to 24
# held-out problems, side by side, with sample completions, and the run's curves as a PNG.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
bin="$ROOT/target/release/grpo-xla"
"$bin" doctor
"$bin" train --config configs/quickstart.yaml --output-dir runs/quickstart
"$bin" plot runs/quickstart
"$bin" eval --run runs/quickstart --data data/reasoning_eval.jsonl --limit 24 --batch 24 \
  --max-new-tokens 112 --show 1
echo "metrics: runs/quickstart/metrics.jsonl  curves: runs/quickstart/curves.png  checkpoints: runs/quickstart/checkpoints/"
