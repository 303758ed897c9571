#!/usr/bin/env bash
# Installs pinned libtpu PJRT plugins from PyPI, for compiling TPU programs ahead of time on a
# machine without a TPU (`grpo-xla compile-check`). Idempotent and cached: each version goes to
# $GRPO_XLA_HOME/plugins/libtpu-VERSION/libtpu.so (the wheel is checked against its sha256, then
# deleted: only the .so is kept). Prints the installed paths, one per line, on stdout.
# Usage: scripts/get-libtpu.sh [VERSION...]     (default: 0.0.17, the version Kaggle's TPU image pins)
#   0.0.17  Kaggle's pin (PJRT C API 0.69, StableHLO 1.10.10)
#   0.0.52  the newest on PyPI when this was written (PJRT C API 0.117, StableHLO 1.24.0)
set -euo pipefail

GRPO_XLA_HOME=${GRPO_XLA_HOME:-$HOME/.cache/grpo-xla}
[ $# -gt 0 ] || set -- 0.0.17

wheel_of() {
  case "$1" in
    0.0.17) echo "libtpu-0.0.17-py3-none-manylinux_2_31_x86_64.whl 4963214199e151613874c2b3f45b983bb09a6e4ba43bb028c917323b8caf418b" ;;
    0.0.52) echo "libtpu-0.0.52-cp311-cp311-manylinux_2_31_x86_64.whl f5e2e596eaea9357fbb5a6755a7a9007c6ab75bfde4a55191b03eff402971140" ;;
    *) return 1 ;;
  esac
}

for version in "$@"; do
  read -r wheel sha256 < <(wheel_of "$version") || {
    echo "get-libtpu.sh: libtpu $version is not pinned here (pinned: 0.0.17, 0.0.52); add its wheel name and sha256 to wheel_of" >&2
    exit 2
  }
  dest="$GRPO_XLA_HOME/plugins/libtpu-$version"
  if [ -f "$dest/libtpu.so" ] && [ "$(cat "$dest/.sha256" 2>/dev/null)" = "$sha256" ]; then
    echo "$dest/libtpu.so"
    continue
  fi
  mkdir -p "$dest"
  tmp=$(mktemp -d "$dest/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "==> downloading libtpu $version from PyPI (about 135 MB)" >&2
  # The .so does not depend on the Python version; name one so pip takes the cp311 wheels too.
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
    --progress-bar off -q -d "$tmp" "libtpu==$version" >&2
  echo "$sha256  $tmp/$wheel" | sha256sum -c --quiet >&2 || {
    echo "get-libtpu.sh: $wheel does not have the expected sha256 $sha256" >&2; exit 1; }
  python3 - "$tmp/$wheel" "$dest" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("libtpu/libtpu.so"))
    tmp = os.path.join(dest, "libtpu.so.partial")
    with z.open(member) as src, open(tmp, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    os.replace(tmp, os.path.join(dest, "libtpu.so"))
PY
  echo "$sha256" > "$dest/.sha256"
  rm -rf "$tmp"
  trap - EXIT
  echo "$dest/libtpu.so"
done
