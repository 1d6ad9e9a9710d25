#!/usr/bin/env bash
# Run Verbatim: on Discord when DISCORD_TOKEN is set (env or .env), else the local console.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh runtime
exec .venv/bin/python -m bot run "$@"
