#!/usr/bin/env bash
# Create .venv and install Verbatim into it (CPU torch first); a no-op when nothing changed.
# usage: scripts/bootstrap.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-runtime}
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$extra-$(cat pyproject.toml requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  index=()
  [ -n "${TORCH_INDEX_URL:-}" ] && index=(--extra-index-url "$TORCH_INDEX_URL")
  echo "Installing Verbatim into .venv (first run takes a few minutes)..." >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check "${index[@]}" -r requirements.txt
  target="."
  [ "$extra" = dev ] && target=".[dev]"
  .venv/bin/python -m pip install -q --disable-pip-version-check "${index[@]}" -e "$target"
  touch "$stamp"
fi
