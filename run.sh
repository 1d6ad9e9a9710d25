#!/usr/bin/env bash
# Run Verbatim: on Discord when DISCORD_TOKEN is set (env or .env), else the local console.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh runtime
# The console script, not `python -m`: the working folder never shadows the packages.
exec .venv/bin/verbatim run "$@"
