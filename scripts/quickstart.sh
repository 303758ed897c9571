#!/usr/bin/env bash
# The main job: set everything up, then run it. Today that is a check-up and the runtime
# benchmark; when the trainer lands this runs the short GRPO run on the default model (CPU).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
bin="$ROOT/target/release/grpo-xla"
"$bin" doctor
"$bin" devices --device cpu --num-devices 4
"$bin" bench runtime
