#!/usr/bin/env bash
# A headless browser for the tests of the hosted HTML forms: Debian's Chromium driven through
# chromedriver (the W3C WebDriver server), used by crates/roster/tests/api/support/browser.rs.
#
#   .ci/browser.sh start   install `chromium` and `chromium-driver` with apt-get when missing,
#                          start `chromedriver` in the background on 127.0.0.1, wait until its
#                          GET /status answers ready (60 s at most), write its PID file, and
#                          print its base URL on stdout (only that)
#   .ci/browser.sh stop    stop the chromedriver that `start` started (and any browser it left
#                          running), by its PID file
#   .ci/browser.sh url     print the base URL of the running chromedriver
#   .ci/browser.sh log     print chromedriver's log
#
# Environment: CHROMEDRIVER_PORT (default 9515; if unset and 9515 is taken, a free port is
# used), CHROMEDRIVER_START_TIMEOUT (seconds, default 60), ROSTER_CI_TOOLS (state folder,
# default target/ci-tools).
# Installing needs root (or sudo) and apt-get; apt's output goes to
# target/ci-tools/browser-setup.log and is shown on failure. The browser itself is started per
# test session by chromedriver, with the flags set in support/browser.rs (headless, no sandbox,
# no background networking: without those flags Chromium keeps calling Google's servers).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# Without Recommends (avahi, cups, udev, upower, ...: a third of the download, none of it used
# headless), but with the fonts Chromium recommends, so pages render with the same fonts
# everywhere.
PACKAGES=(chromium chromium-driver fonts-liberation)
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

TOOLS="${ROSTER_CI_TOOLS:-$ROOT/target/ci-tools}"
SETUP_LOG="$TOOLS/browser-setup.log"
LOG="$TOOLS/chromedriver.log"
PID_FILE="$TOOLS/chromedriver.pid"
URL_FILE="$TOOLS/chromedriver.url"
START_TIMEOUT="${CHROMEDRIVER_START_TIMEOUT:-60}"

die() {
    echo "FAILED (browser.sh): $*" >&2
    exit 1
}

show_log() { # $1: file, printed to stderr
    if [ -s "$1" ]; then
        echo "---- $1 (last 200 lines)" >&2
        tail -n 200 "$1" >&2
        echo "---- end of $1" >&2
    fi
}

# The PID in the PID file, if that process is alive and is our chromedriver (not a reused PID).
running_pid() {
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'chromedriver' || return 1
    echo "$pid"
}

installed() {
    [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]
}

apt_install() { # quietly, into the setup log
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "installing ${PACKAGES[*]} needs root or sudo"
        sudo=(sudo -n)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o DPkg::Lock::Timeout=300 --no-install-recommends "${PACKAGES[@]}" >>"$SETUP_LOG" 2>&1
}

install_browser() {
    installed && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "$CHROMIUM / $CHROMEDRIVER are missing and apt-get is not available to install ${PACKAGES[*]}"
    echo "== apt-get install ${PACKAGES[*]} ($(date -u +%FT%TZ))" >>"$SETUP_LOG"
    local started=$SECONDS
    if ! apt_install; then
        # Stale package lists are the usual cause; refresh them once and retry.
        echo "== apt-get update" >>"$SETUP_LOG"
        local sudo=()
        [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
            -o DPkg::Lock::Timeout=300 >>"$SETUP_LOG" 2>&1 || true
        echo "== apt-get install ${PACKAGES[*]} (retry)" >>"$SETUP_LOG"
        if ! apt_install; then
            show_log "$SETUP_LOG"
            die "apt-get install ${PACKAGES[*]} failed"
        fi
    fi
    installed || {
        show_log "$SETUP_LOG"
        die "apt-get installed ${PACKAGES[*]} but $CHROMIUM or $CHROMEDRIVER is missing"
    }
    echo "== installed in $((SECONDS - started)) s" >>"$SETUP_LOG"
}

port_free() { # $1: port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() { # the first free port after 9515
    local port
    for port in $(seq 9516 9715); do
        if port_free "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "no free port in 9516-9715 for chromedriver"
}

status_body() { # $1: base URL; prints GET /status's body
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 2 "$1/status" 2>/dev/null
    else
        local port="${1##*:}"
        timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" &&
            printf "GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' "$port" 2>/dev/null
    fi
}

ready() { # $1: base URL
    status_body "$1" | tr -d ' \n\r\t' | grep -q '"ready":true'
}

# chromedriver and every process under it (the browsers of sessions nobody quit), deepest last.
process_tree() { # $1: PID
    local child
    echo "$1"
    for child in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
        process_tree "$child"
    done
}

start() {
    mkdir -p "$TOOLS"
    local pid url port
    if pid="$(running_pid)"; then
        cat "$URL_FILE" 2>/dev/null || die "chromedriver (PID $pid) is running but has no URL file yet"
        return 0
    fi
    rm -f "$PID_FILE" "$URL_FILE"
    : >"$SETUP_LOG"
    install_browser
    {
        echo "== versions"
        "$CHROMEDRIVER" --version
        "$CHROMIUM" --version 2>/dev/null
    } >>"$SETUP_LOG" 2>&1 || {
        show_log "$SETUP_LOG"
        die "$CHROMEDRIVER or $CHROMIUM does not run"
    }

    if [ -n "${CHROMEDRIVER_PORT:-}" ]; then
        port="$CHROMEDRIVER_PORT"
        port_free "$port" || die "port $port (CHROMEDRIVER_PORT) is already in use on 127.0.0.1"
    elif port_free 9515; then
        port=9515
    else
        port="$(free_port)"
    fi
    url="http://127.0.0.1:$port"

    : >"$LOG"
    # chromedriver listens on localhost only and accepts connections from there only.
    "$CHROMEDRIVER" --port="$port" --log-level=INFO </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"

    local deadline=$((SECONDS + START_TIMEOUT))
    until ready "$url"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            show_log "$LOG"
            die "chromedriver exited before answering on $url"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            stop
            show_log "$LOG"
            die "chromedriver did not report ready on $url/status within ${START_TIMEOUT}s"
        fi
        sleep 0.25
    done
    echo "$url" >"$URL_FILE"
    echo "$url"
}

stop() {
    local pid pids
    if pid="$(running_pid)"; then
        pids="$(process_tree "$pid" | tr '\n' ' ')"
        # shellcheck disable=SC2086 # one PID per word
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        for pid in $pids; do
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        done
    fi
    rm -f "$PID_FILE" "$URL_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url)
        running_pid >/dev/null || die "chromedriver is not running"
        cat "$URL_FILE"
        ;;
    log) cat "$LOG" ;;
    *)
        echo "usage: $0 start|stop|url|log" >&2
        exit 2
        ;;
esac
