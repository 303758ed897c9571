#!/usr/bin/env bash
# The main job: set everything up, then a short real GRPO run of Gemma 3 270M with LoRA on the
# CPU (configs/quickstart.yaml, about 10 minutes on 2 cores), and its curves as a PNG.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
bin="$ROOT/target/release/grpo-xla"
"$bin" doctor
"$bin" train --config configs/quickstart.yaml --output-dir runs/quickstart
"$bin" plot runs/quickstart
echo "metrics: runs/quickstart/metrics.jsonl  curves: runs/quickstart/curves.png  checkpoints: runs/quickstart/checkpoints/"
