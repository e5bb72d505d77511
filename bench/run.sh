#!/usr/bin/env bash
# Roster's load harness (README, "Benchmarks"): installs wrk if missing, builds Roster in
# release mode, then runs roster-bench, which preloads 1,000,000 contacts (cached in
# target/bench-cache), starts `roster serve` on fresh copies and drives /healthz, newEvent,
# newContact and getCustomers with wrk at 16, 64 and 256 connections for 10 s each; first,
# a bare axum server's /healthz the same way (bench/src/bare.rs), the reference for ratios.
# Results: printed, bench/results/latest.{json,md}, and a new section in bench/RESULTS.md.
# Extra arguments go to roster-bench; a quick trial:
#   bash bench/run.sh --contacts 100000 --duration 3 --no-record
# Other flags: --concurrency 16,64,256  --endpoints healthz,newEvent,newContact,getCustomers
#   --postgres postgres://postgres@127.0.0.1:5432/test  (also measure PostgreSQL)
# Exit status 1 when any request failed (non-2xx or socket error).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk (Debian package)" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq wrk
fi
cargo build --release -p roster -p roster-bench
exec target/release/roster-bench "$@"
