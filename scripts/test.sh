#!/usr/bin/env bash
# The test suite: installs what the tests need (plugin, reference environment, the portable
# wheel), then runs every test, lint and format check, and executes the notebooks. CI runs exactly this (.ci/run).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh --no-build
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
