#!/usr/bin/env bash
# Benchmarks: reeflow beside DuckDB on generated world-trade data (see BENCHMARKS.md).
#   bench/run.sh [ROWS[,ROWS...]] [more `reeflow bench run` options]
# Installs DuckDB from PyPI into a venv under ~/.cache/reeflow (once), builds reeflow, runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/target-dir.sh
VENV="${REEFLOW_BENCH_VENV:-$HOME/.cache/reeflow/bench-venv}"
if ! "$VENV/bin/python" -c "import duckdb" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "duckdb==2.0.1"
fi
cargo build --quiet --bin reeflow
SIZES="${1:-1000000}"
shift || true
exec "$CARGO_TARGET_DIR/debug/reeflow" bench run --rows "$SIZES" --python "$VENV/bin/python" "$@"
