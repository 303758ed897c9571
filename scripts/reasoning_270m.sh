#!/usr/bin/env bash
# The recipe and its measurement, one command: set up, then a supervised warm start and GRPO on
# Gemma 3 270M with LoRA (configs/reasoning_270m.yaml; about an hour and a half on 2 CPU
# cores; resumes where it stopped), then greedy answers of the base model, the SFT result and
# the SFT+GRPO model to the held-out split (data/reasoning_eval.jsonl, phrased unlike the
# training data), with 95% intervals, per domain and difficulty. Writes writeup/results/:
#   reasoning_270m.json (rows base / SFT / SFT+GRPO, ten sample completions each),
#   reasoning_270m_table.md (the printed table), reasoning_270m_curves.png.
# EVAL_LIMIT=N evaluates the first N problems only (default: all 400).
# CONFIG=FILE trains another config (e.g. configs/experiments/reasoning_270m_bf16.yaml), RUN=DIR
# into another run folder, OUT=DIR writes the results there instead of writeup/results.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
bin="$ROOT/target/release/grpo-xla"
config=${CONFIG:-configs/reasoning_270m.yaml}
run=${RUN:-runs/reasoning_270m}
out=${OUT:-writeup/results}
mkdir -p "$out"
start=$SECONDS
"$bin" train --config "$config" --output-dir "$run" --resume
echo "training took $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
"$bin" plot "$run" --out "$out/reasoning_270m_curves.png"
"$bin" eval --run "$run" --data data/reasoning_eval.jsonl --limit "${EVAL_LIMIT:-400}" \
  --batch 32 --max-new-tokens 128 --samples 10 --json "$out/reasoning_270m.json" \
  | tee "$out/reasoning_270m_table.md"
