#!/usr/bin/env bash
# Crash safety, long form: the test crates/roster/tests/api/crash_safety.rs with many more
# kill/restart rounds and longer load per round. 32 clients write contacts and events as
# fast as they can; `roster serve` is SIGKILLed mid-load, restarted on the same database,
# and every acknowledged write is checked, plus SQLite integrity_check/foreign_key_check or
# PostgreSQL foreign keys, bt_index_check and verify_heapam (amcheck).
#
#   bash bench/crash-safety.sh                  # SQLite; PostgreSQL too when TEST_DATABASE_URL is set
#   bash bench/crash-safety.sh sqlite|postgres|both
#   bash bench/crash-safety.sh both --release   # extra arguments go to `cargo test`
#
# Settings (environment): ROSTER_CRASH_ROUNDS (default here 25), ROSTER_CRASH_LOAD_MS (mean
# load before each kill, default here 5000), ROSTER_CRASH_CLIENTS (32), ROSTER_CRASH_SEED
# (default: new each run, printed; set it to replay a run's requests and kill times).
# PostgreSQL: TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test when
# postgres/both is asked for). Exit status 1 when any backend found a problem.
set -euo pipefail
cd "$(dirname "$0")/.."

which="${1:-}"
if [ -n "$which" ] && [ "${which#-}" = "$which" ]; then
    shift
else
    which=""
fi
if [ -z "$which" ]; then
    if [ -n "${TEST_DATABASE_URL:-}" ]; then which=both; else which=sqlite; fi
fi
case "$which" in
    sqlite | postgres | both) ;;
    *)
        echo "usage: $0 [sqlite|postgres|both] [cargo test arguments]" >&2
        exit 2
        ;;
esac

export ROSTER_CRASH_ROUNDS="${ROSTER_CRASH_ROUNDS:-25}"
export ROSTER_CRASH_LOAD_MS="${ROSTER_CRASH_LOAD_MS:-5000}"
export ROSTER_CRASH_SEED="${ROSTER_CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
pg_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
test_name=crash_safety::every_acknowledged_write_survives_sigkill_under_load

echo "crash-safety: $ROSTER_CRASH_ROUNDS rounds, ~${ROSTER_CRASH_LOAD_MS} ms of load each," \
    "seed $ROSTER_CRASH_SEED ($which)"
cargo test -p roster --test api "$@" --no-run

failed=0
run() {
    local backend="$1"
    shift
    local started=$SECONDS
    if env "$@" cargo test -p roster --test api "${cargo_args[@]}" -- "$test_name" --exact \
        --nocapture --test-threads 1; then
        echo "crash-safety: $backend passed in $((SECONDS - started)) s"
    else
        echo "crash-safety: $backend FAILED (replay: ROSTER_CRASH_SEED=$ROSTER_CRASH_SEED" \
            "ROSTER_CRASH_ROUNDS=$ROSTER_CRASH_ROUNDS ROSTER_CRASH_LOAD_MS=$ROSTER_CRASH_LOAD_MS)" >&2
        failed=1
    fi
}
cargo_args=("$@")
if [ "$which" != postgres ]; then
    run SQLite -u TEST_DATABASE_URL
fi
if [ "$which" != sqlite ]; then
    run PostgreSQL TEST_DATABASE_URL="$pg_url"
fi
exit "$failed"
