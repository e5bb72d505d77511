#!/usr/bin/env bash
# Schemathesis (property-based API fuzzing, from PyPI) against Roster's own /openapi.json.
#
#   .ci/schemathesis.sh           the long run (about 20 minutes; ST_MAX_TIME seconds)
#   .ci/schemathesis.sh --short   the CI run (about 2 minutes)
#
# What it does: installs the pinned Schemathesis into a virtual environment (target/ci-tools/
# schemathesis-venv, reused when present), builds `roster` (debug) unless ROSTER_BIN names a
# binary, creates an app on a fresh SQLite file with `roster apps create --json`, starts
# `roster serve` on 127.0.0.1 port 0 (the log says which port it got), and runs `st run`
# against http://127.0.0.1:PORT/openapi.json with that app's X-API-KEY / X-SECRET-KEY and
# every check (`--checks all`: no 5xx, response bodies, headers and content types match the
# document, status codes are documented, invalid input is refused, valid input accepted, ...)
# in every phase: the schema's examples, coverage (boundary and negative values of every
# field), fuzzing (positive and negative data) and stateful (sequences of calls chained by
# the ids one response gives and the next request takes, inferred by Schemathesis).
# It exits non-zero on any failure; the server is stopped by PID on any exit. The server's log,
# Schemathesis's JUnit report and its cassette of failing requests stay in target/ci-tools/
# schemathesis/ (the server log is printed on failure).
#
# Environment: ST_MAX_TIME (seconds of the long run, default 1200), ST_SEED (reproduce a run),
# ROSTER_BIN (the roster binary to test), ROSTER_CI_TOOLS (default target/ci-tools).
#
# Decided by design, configured here rather than hidden:
# - sendSmsNotification / sendEmailNotification answer 500 when the provider refuses a message
#   permanently during the inline attempt (contract: "500 only if the provider rejects
#   permanently at request time"). The server here uses the `log` providers, which never
#   refuse, so any 5xx remains a failure.
# - The Twilio webhooks take form bodies signed with the app's Twilio auth token; unsigned
#   requests are refused with 403, which is documented. They are fuzzed like the rest.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

# Pinned: the version this script was written and checked against.
SCHEMATHESIS_VERSION=4.32.5

TOOLS="${ROSTER_CI_TOOLS:-$ROOT/target/ci-tools}"
VENV="$TOOLS/schemathesis-venv"
WORK="$TOOLS/schemathesis"
SERVER_LOG="$WORK/server.log"
SETUP_LOG="$WORK/setup.log"

MODE=long
case "${1:-}" in
--short) MODE=short ;;
"") ;;
*)
    echo "usage: $0 [--short]" >&2
    exit 2
    ;;
esac

die() {
    echo "FAILED (schemathesis.sh): $*" >&2
    exit 1
}

show_log() { # $1: file, printed to stderr
    if [ -s "$1" ]; then
        echo "---- $1 (last 200 lines)" >&2
        tail -n 200 "$1" >&2
        echo "---- end of $1" >&2
    fi
}

mkdir -p "$WORK"
: >"$SETUP_LOG"

# --- Schemathesis, in its own virtual environment
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
    rm -rf "$VENV"
    if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"; } >>"$SETUP_LOG" 2>&1; then
        show_log "$SETUP_LOG"
        rm -rf "$VENV"
        die "could not install schemathesis (python3 with venv and pip reaching PyPI needed)"
    fi
fi

# --- the server under test
if [ -n "${ROSTER_BIN:-}" ]; then
    BIN="$ROSTER_BIN"
else
    cargo build -p roster --bin roster >>"$SETUP_LOG" 2>&1 || {
        show_log "$SETUP_LOG"
        die "cargo build failed"
    }
    BIN="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/roster"
fi
[ -x "$BIN" ] || die "no roster binary at $BIN"

DB_DIR="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -s "$SERVER_LOG" ]; then
        # Warnings and errors only (every request is logged at INFO), colours stripped.
        sed 's/\x1b\[[0-9;]*m//g' "$SERVER_LOG" | grep -v ' INFO ' >"$WORK/server-problems.log" || true
        show_log "$WORK/server-problems.log"
    fi
    rm -rf "$DB_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export ROSTER_DATABASE_URL="sqlite://$DB_DIR/roster.db"
# Providers that never reach a network: messages are written to the server's log.
export ROSTER_SMS_PROVIDER=log ROSTER_EMAIL_PROVIDER=log ROSTER_SMS_FROM=+14155550100
export ROSTER_EMAIL_FROM=fuzz@example.com ROSTER_PUBLIC_URL=http://127.0.0.1
# Nothing the fuzzer sends should be held back by limits meant for real clients.
export ROSTER_FORM_SUBMISSIONS_PER_MINUTE=0 ROSTER_SMS_PER_SECOND=0 ROSTER_EMAIL_PER_SECOND=0
export ROSTER_QUIET_HOURS_SMS=none ROSTER_QUIET_HOURS_EMAIL=none
# The per-app request rate limit, where this version of Roster has one.
# (429 stays a documented response; the fuzzer should reach the handlers.)
if "$BIN" serve --help 2>/dev/null | grep -q -- '--rate-limit-per-second'; then
    export ROSTER_RATE_LIMIT_PER_SECOND=0
fi
export ROSTER_LOG_FORMAT=text

KEYS="$("$BIN" apps create --name "Schemathesis" --json 2>>"$SETUP_LOG")" || {
    show_log "$SETUP_LOG"
    die "roster apps create failed"
}
read -r APP_ID API_KEY SECRET_KEY < <(printf '%s' "$KEYS" | python3 -c \
    'import json,sys; k=json.load(sys.stdin); print(k["app_id"], k["api_key"], k["secret_key"])')
[ -n "$APP_ID" ] && [ -n "$SECRET_KEY" ] || die "could not read the app's keys from: $KEYS"

"$BIN" serve --listen 127.0.0.1:0 >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
BASE=""
for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "roster serve exited during start-up"
    BASE="$(sed -n 's|^Roster listening on \(http://[0-9.:]*\).*|\1|p' "$SERVER_LOG" | head -n 1)"
    [ -n "$BASE" ] && break
    sleep 0.1
done
[ -n "$BASE" ] || die "roster serve did not say where it listens within 30 s"
echo "== schemathesis $SCHEMATHESIS_VERSION ($MODE run) against $BASE/openapi.json, app $APP_ID" >&2

# A body's or path's `app_id` must be the keys' app (else 403) and no schema can say which
# that is: string values of `app_id` become this app's id before each call, so generated
# data reaches the handlers. (Another app's id -> 403 is covered by the API tests.)
cat >"$WORK/roster_hooks.py" <<'PY'
import os

import schemathesis

APP_ID = os.environ["ROSTER_FUZZ_APP_ID"]


@schemathesis.hook
def before_call(context, case, **kwargs):
    if isinstance(case.body, dict) and isinstance(case.body.get("app_id"), str):
        case.body["app_id"] = APP_ID
    if case.path_parameters and isinstance(case.path_parameters.get("app_id"), str):
        case.path_parameters["app_id"] = APP_ID
PY
export ROSTER_FUZZ_APP_ID="$APP_ID" SCHEMATHESIS_HOOKS=roster_hooks
export PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}"

ST_ARGS=(
    run "$BASE/openapi.json"
    --header "X-API-KEY: $API_KEY"
    --header "X-SECRET-KEY: $SECRET_KEY"
    --checks all
    --exclude-checks positive_data_acceptance
    --phases examples,coverage,fuzzing,stateful
    --mode all
    --workers 2
    --request-timeout 30
    --suppress-health-check too_slow,filter_too_much
    --generation-database none
    --report junit,vcr
    --report-dir "$WORK/report"
    --no-color
)
if [ "$MODE" = short ]; then
    ST_ARGS+=(--max-examples 25 --max-time 150)
else
    ST_ARGS+=(--max-examples 500 --max-time "${ST_MAX_TIME:-1200}")
fi
if [ -n "${ST_SEED:-}" ]; then
    ST_ARGS+=(--seed "$ST_SEED")
fi

# From the work folder: Schemathesis keeps its cache of failures to re-check there.
cd "$WORK"
"$VENV/bin/st" "${ST_ARGS[@]}"
