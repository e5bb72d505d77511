#!/usr/bin/env bash
# Prism (Stoplight's OpenAPI mock server) serving Twilio's official REST API document, for the
# end-to-end test that our SMS requests match Twilio's wire format.
#
#   .ci/prism.sh start   install Prism and fetch the spec (both pinned, cached under
#                        target/ci-tools, reused when present), start `prism mock` in the
#                        background on 127.0.0.1, wait until it answers (60 s at most), check
#                        that it accepts a valid "send a message" request and rejects invalid
#                        ones, write its PID file, and print its base URL on stdout (only that)
#   .ci/prism.sh stop    stop the Prism that `start` started, by its PID file
#   .ci/prism.sh url     print the base URL of the running Prism
#   .ci/prism.sh log     print Prism's log
#
# Environment: PRISM_PORT (default 4010; if unset and 4010 is taken, a free port is used),
# PRISM_START_TIMEOUT (seconds, default 60), ROSTER_CI_TOOLS (cache and state folder, default
# target/ci-tools).
# Needs only Node.js >= 18.20.1 and npm reaching the npm registry; everything else it prints
# goes to files under the tools folder and is shown on failure.
#
# Behaviour relied on (prism mock, static mode, the pinned spec): request validation is always
# on; a valid POST .../Accounts/{AC + 32 hex}/Messages.json with HTTP Basic auth and a form body
# holding `To` answers 201 with the spec's first example (sid SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,
# status queued) whatever was sent; no/non-Basic auth -> 401; a body without `To`, a bad
# AccountSid or a non-URI StatusCallback -> 422 application/problem+json with a `validation`
# list; a JSON body -> 415. `--errors` turns violations of the *response* against the spec into
# a 500, so a mock answer that drifts from the spec fails loudly instead of passing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# Pinned versions. Prism 5.15 and later require Node >= 24; 5.14.2 is the newest for Node 20.
PRISM_VERSION=5.14.2
SPEC_PACKAGE=@twilio-alpha/mcp
SPEC_VERSION=0.7.0
SPEC_IN_PACKAGE=package/twilio-oai/spec/json/twilio_api_v2010.json
SPEC_SHA256=475b69553e34e797af05d34679cdad3bc3b8b4b8b92e6ac044fa6ebc255bf052
PRISM_FLAGS=(mock --errors --host 127.0.0.1 --verboseLevel info)

TOOLS="${ROSTER_CI_TOOLS:-$ROOT/target/ci-tools}"
PRISM_DIR="$TOOLS/prism/$PRISM_VERSION"
PRISM_CLI="$PRISM_DIR/node_modules/@stoplight/prism-cli/dist/index.js"
SPEC_DIR="$TOOLS/twilio-spec/$SPEC_VERSION"
SPEC="$SPEC_DIR/twilio_api_v2010.json"
SETUP_LOG="$TOOLS/prism-setup.log"
LOG="$TOOLS/prism.log"
PID_FILE="$TOOLS/prism.pid"
URL_FILE="$TOOLS/prism.url"
START_TIMEOUT="${PRISM_START_TIMEOUT:-60}"

die() {
    echo "FAILED (prism.sh): $*" >&2
    exit 1
}

show_log() { # $1: file, printed to stderr
    if [ -s "$1" ]; then
        echo "---- $1 (last 200 lines)" >&2
        tail -n 200 "$1" >&2
        echo "---- end of $1" >&2
    fi
}

# The PID in the PID file, if that process is alive and is our Prism (not a reused PID).
running_pid() {
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'prism-cli' || return 1
    echo "$pid"
}

install_prism() {
    [ -f "$PRISM_CLI" ] && return 0
    command -v node >/dev/null 2>&1 || die "node is not installed (Prism needs Node.js >= 18.20.1)"
    command -v npm >/dev/null 2>&1 || die "npm is not installed"
    local tmp="$PRISM_DIR.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    echo "== npm install @stoplight/prism-cli@$PRISM_VERSION" >>"$SETUP_LOG"
    if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --no-package-lock \
        "@stoplight/prism-cli@$PRISM_VERSION" >>"$SETUP_LOG" 2>&1; then
        rm -rf "$tmp"
        show_log "$SETUP_LOG"
        die "npm install @stoplight/prism-cli@$PRISM_VERSION failed"
    fi
    [ -f "$tmp/node_modules/@stoplight/prism-cli/dist/index.js" ] || {
        rm -rf "$tmp"
        die "prism-cli installed without dist/index.js"
    }
    rm -rf "$PRISM_DIR"
    mv "$tmp" "$PRISM_DIR"
}

fetch_spec() {
    if [ -f "$SPEC" ] && echo "$SPEC_SHA256  $SPEC" | sha256sum -c --status; then
        return 0
    fi
    local tmp="$SPEC_DIR.tmp.$$" tarball
    rm -rf "$tmp"
    mkdir -p "$tmp"
    echo "== npm pack $SPEC_PACKAGE@$SPEC_VERSION" >>"$SETUP_LOG"
    if ! (cd "$tmp" && npm pack "$SPEC_PACKAGE@$SPEC_VERSION" >>"$SETUP_LOG" 2>&1); then
        rm -rf "$tmp"
        show_log "$SETUP_LOG"
        die "npm pack $SPEC_PACKAGE@$SPEC_VERSION failed"
    fi
    tarball="$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1)"
    [ -n "$tarball" ] || die "npm pack $SPEC_PACKAGE@$SPEC_VERSION left no tarball"
    tar -xzf "$tarball" -C "$tmp" "$SPEC_IN_PACKAGE" >>"$SETUP_LOG" 2>&1 ||
        die "$SPEC_IN_PACKAGE is not in $SPEC_PACKAGE@$SPEC_VERSION"
    echo "$SPEC_SHA256  $tmp/$SPEC_IN_PACKAGE" | sha256sum -c --status ||
        die "Twilio spec from $SPEC_PACKAGE@$SPEC_VERSION does not have the pinned SHA-256"
    mkdir -p "$SPEC_DIR"
    mv "$tmp/$SPEC_IN_PACKAGE" "$SPEC"
    rm -rf "$tmp"
}

port_free() { # $1: port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

answers() { # $1: base URL; any HTTP answer counts
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then(() => process.exit(0), () => process.exit(1))' "$1/" 2>/dev/null
}

# The behaviour the Rust test relies on; fails loudly if this Prism/spec pair behaves otherwise.
smoke_check() { # $1: base URL
    node - "$1" <<'JS'
const base = process.argv[2];
const acct = "AC" + "0123456789abcdef".repeat(2);
const url = `${base}/2010-04-01/Accounts/${acct}/Messages.json`;
const basic = "Basic " + Buffer.from(`${acct}:token`).toString("base64");
const form = "application/x-www-form-urlencoded";
async function post(name, headers, body, want, check) {
  const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  if (res.status !== want) throw new Error(`${name}: want ${want}, got ${res.status}: ${text}`);
  if (check) check(JSON.parse(text));
}
(async () => {
  const valid = "To=%2B15551234567&From=%2B15557654321&Body=hi";
  await post("valid request", { Authorization: basic, "Content-Type": form, "I-Twilio-Idempotency-Token": "ci" }, valid, 201,
    (j) => { if (!/^SM[0-9a-fA-F]{32}$/.test(j.sid)) throw new Error(`valid request: bad sid ${j.sid}`); });
  await post("no auth", { "Content-Type": form }, valid, 401);
  await post("no To", { Authorization: basic, "Content-Type": form }, "From=%2B15557654321&Body=hi", 422);
})().catch((e) => { console.error(String(e)); process.exit(1); });
JS
}

start() {
    mkdir -p "$TOOLS"
    local pid url port
    if pid="$(running_pid)"; then
        cat "$URL_FILE" 2>/dev/null || die "prism (PID $pid) is running but has no URL file yet"
        return 0
    fi
    rm -f "$PID_FILE" "$URL_FILE"
    : >"$SETUP_LOG"
    install_prism
    fetch_spec

    if [ -n "${PRISM_PORT:-}" ]; then
        port="$PRISM_PORT"
        port_free "$port" || die "port $port (PRISM_PORT) is already in use on 127.0.0.1"
    elif port_free 4010; then
        port=4010
    else
        port="$(free_port)"
    fi
    url="http://127.0.0.1:$port"

    : >"$LOG"
    node "$PRISM_CLI" "${PRISM_FLAGS[@]}" --port "$port" "$SPEC" </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"

    local deadline=$((SECONDS + START_TIMEOUT))
    until answers "$url"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            show_log "$LOG"
            die "prism exited before answering on $url"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            stop
            show_log "$LOG"
            die "prism did not answer on $url within ${START_TIMEOUT}s"
        fi
        sleep 0.5
    done
    if ! smoke_check "$url" 2>>"$LOG"; then
        stop
        show_log "$LOG"
        die "prism on $url does not behave as the SMS test expects (see the log above)"
    fi
    echo "$url" >"$URL_FILE"
    echo "$url"
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$URL_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url)
        running_pid >/dev/null || die "prism is not running"
        cat "$URL_FILE"
        ;;
    log) cat "$LOG" ;;
    *)
        echo "usage: $0 start|stop|url|log" >&2
        exit 2
        ;;
esac
