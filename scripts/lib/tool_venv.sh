# Sourced by scripts that need pinned Python tools: `tool_venv NAME "PKG==V ..."` makes (or
# reuses) $GRPO_XLA_HOME/venv-NAME holding exactly those packages, and sets $venv to it.
tool_venv() {
  venv="${GRPO_XLA_HOME:-$HOME/.cache/grpo-xla}/venv-$1"
  local tools=$2
  if [ "$(cat "$venv/.tools" 2>/dev/null)" != "$tools" ]; then
    echo "==> $tools into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q $tools
    echo "$tools" > "$venv/.tools"
  fi
}
