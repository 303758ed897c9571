#!/usr/bin/env bash
# Can a model do the arithmetic the reasoning data asks of it? Greedy completions of bare
# sums, differences and products ("47 + 38 = "), the first number of each checked, per
# operation. Use it before spending GRPO steps on math: GRPO can only reinforce right
# answers the model already samples.
#   scripts/probe_arithmetic.sh [MODEL_DIR] [COUNT_PER_OP]   (default models/gemma3-270m, 8)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL=${1:-models/gemma3-270m}
COUNT=${2:-8}
BIN=${GRPO_XLA_BIN:-$ROOT/target/release/grpo-xla}
[ -x "$BIN" ] || { echo "no binary at $BIN: run cargo build --release (or set GRPO_XLA_BIN)" >&2; exit 1; }
[ -f "$MODEL/config.json" ] || { echo "$MODEL: not a model folder (no config.json)" >&2; exit 1; }
RANDOM=7   # the same problems on every run
echo "model: $MODEL; $COUNT problems per operation, greedy, 6 new tokens"
total_right=0
for op in "+" "-" "x" "*"; do
  right=0
  for _ in $(seq "$COUNT"); do
    a=$((RANDOM % 90 + 10)); b=$((RANDOM % 90 + 10))
    case $op in
      "+") want=$((a + b)) ;;
      "-") [ "$a" -lt "$b" ] && { t=$a; a=$b; b=$t; }; want=$((a - b)) ;;
      *) b=$((b % 12 + 2)); want=$((a * b)) ;;
    esac
    got=$("$BIN" generate --model "$MODEL" --prompt "$a $op $b = " --max-new-tokens 6 \
      --temperature 0 2>/dev/null | grep -oE -- '-?[0-9]+' | head -1 || true)
    [ "$got" = "$want" ] && right=$((right + 1))
  done
  echo "  a $op b: $right / $COUNT right"
  total_right=$((total_right + right))
done
echo "all: $total_right / $((4 * COUNT)) right"
