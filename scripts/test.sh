#!/usr/bin/env bash
# The test suite: installs what the tests need (plugin, reference environment, the portable
# wheel), then runs every test, lint and format check, and executes the notebooks. CI runs exactly this (.ci/run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# A one-shot build gains nothing from incremental caches, which doubled the disk a clean build needs.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
free_gib=$(df -Pk "$ROOT" | awk 'NR==2 {print int($4 / 1048576)}')
if [ "$free_gib" -lt 8 ]; then
  echo "warning: ${free_gib} GiB free under $ROOT; a clean build of the suite needs about 8 GiB (target/, the venvs in ~/.cache/grpo-xla)" >&2
fi
scripts/setup.sh --no-build
echo "==> libtpu 0.0.17 (Kaggle's pin) and 0.0.52 (newest), for compiling TPU programs without a TPU"
scripts/get-libtpu.sh 0.0.17 0.0.52
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --locked --all-targets -q -- -D warnings
echo "==> the portable binary and its wheel (tests/portable.rs checks them)"
scripts/build-portable.sh
echo "==> cargo test"
cargo test --locked --all-targets --no-fail-fast
cargo test --locked --doc -q
echo "==> the notebooks, headless on CPU with the smoke config"
scripts/run-notebooks.sh
