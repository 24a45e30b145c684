#!/usr/bin/env bash
# Benchmarks: reeflow beside DuckDB on generated world-trade data (see BENCHMARKS.md).
#   bench/run.sh [ROWS[,ROWS...]] [more `reeflow bench run` options]
# Installs DuckDB from PyPI into a venv under ~/.cache/reeflow (once), builds reeflow, runs.
# With REEFLOW_BENCH_BALLISTA=1 it builds the `cluster` feature (the test build's feature set),
# starts a Ballista scheduler and two executors (one task slot each) on 127.0.0.1 and runs the
# stages on them too (`bench run --scheduler`), stopping them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/target-dir.sh
VENV="${REEFLOW_BENCH_VENV:-$HOME/.cache/reeflow/bench-venv}"
if ! "$VENV/bin/python" -c "import duckdb" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "duckdb==2.0.1"
fi
SIZES="${1:-1000000}"
shift || true
REEFLOW="$CARGO_TARGET_DIR/debug/reeflow"
if [ "${REEFLOW_BENCH_BALLISTA:-}" != 1 ]; then
    cargo build --quiet --bin reeflow
    exec "$REEFLOW" bench run --rows "$SIZES" --python "$VENV/bin/python" "$@"
fi
cargo build --quiet --workspace --tests --features reeflow/cloud,reeflow/cluster
LOGS="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$LOGS"' EXIT
"$REEFLOW" cluster scheduler --bind 127.0.0.1:50050 2>"$LOGS/scheduler.log" &
sleep 2
"$REEFLOW" cluster executor --scheduler df://127.0.0.1:50050 --flight-port 50051 --grpc-port 50052 \
    --task-slots 1 --work-dir "$LOGS" 2>"$LOGS/executor-1.log" &
"$REEFLOW" cluster executor --scheduler df://127.0.0.1:50050 --flight-port 50061 --grpc-port 50062 \
    --task-slots 1 --work-dir "$LOGS" 2>"$LOGS/executor-2.log" &
sleep 3
"$REEFLOW" bench run --rows "$SIZES" --python "$VENV/bin/python" --scheduler df://127.0.0.1:50050 "$@"
