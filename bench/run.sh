#!/usr/bin/env bash
# Builds Roster in release mode and runs the load benchmark (see README, "Benchmarks").
# Extra arguments go to roster-bench, e.g. `bash bench/run.sh --contacts 5000 --sqlite-only`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p roster -p roster-bench
exec target/release/roster-bench "$@"
