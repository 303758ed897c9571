#!/usr/bin/env bash
# A grpo-xla binary for any x86-64 Linux with glibc >= 2.31 (Kaggle's images and TPU VMs run
# newer ones; libtpu's own wheels are manylinux_2_31), packaged as a Python wheel whose install
# puts `grpo-xla` on PATH: maturin (bindings = "bin", pyproject.toml) links it with zig against
# glibc 2.31's symbols. Tools live in a cached venv; the wheel goes to dist/.
# Usage: scripts/build-portable.sh        (then: pip install dist/grpo_xla-*.whl)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/tool_venv.sh
source scripts/lib/tool_venv.sh
tool_venv build "maturin==1.16.0 ziglang==0.17.1"
echo "==> building the portable binary and its wheel (release, glibc 2.31)"
rm -rf dist
PATH="$venv/bin:$PATH" maturin build --release --zig --compatibility manylinux_2_31 \
  --target x86_64-unknown-linux-gnu -o dist
ls dist/*.whl
