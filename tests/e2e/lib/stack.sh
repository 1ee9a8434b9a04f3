# tests/e2e/lib/stack.sh - shared by the e2e tests that need the development
# broker, a throwaway redis-server and the daemon. Not a test itself (make
# test-e2e runs tests/e2e/*.sh only). Set NAME, then source it:
#
#   NAME=mytest
#   . "$(dirname "$0")/lib/stack.sh"
#   need kcat redis-server redis-cli     # skips the test (0 passed) if missing
#   start_broker 2 [--brokers 3]         # sets BPID and BOOT (options passed on)
#   pick_port; start_redis               # sets port and RPID; rcli talks to it
#   ... ok / bad "what" ...; DPID=<daemon pid> is killed at exit, and a
#   function cleanup_extra, if the test defines one, is called first
#   finish                               # "NAME: N passed, N failed", exit status
#
# Everything started is stopped at exit; KEEP=1 keeps the temp dir $T.
set -u
BIN=${SR_BIN:-build/streamrec}
T=$(mktemp -d)
BPID=""
RPID=""
DPID=""
BOOT=""
port=""
fail=0
pass=0

stack_cleanup() {
    # a test's own processes: it may define cleanup_extra
    command -v cleanup_extra >/dev/null 2>&1 && cleanup_extra
    [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
    [ -n "$BPID" ] && kill -TERM "$BPID" 2>/dev/null
    [ -n "$RPID" ] && kill -TERM "$RPID" 2>/dev/null
    wait 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap stack_cleanup EXIT

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() {
    echo "$NAME: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}

# need TOOL...: skip the whole test when a tool is missing.
need() {
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$NAME: $tool not installed (scripts/deps.sh); skipped"
            echo "$NAME: 0 passed, 0 failed"
            exit 0
        fi
    done
}

# start_broker PARTITIONS [OPTIONS...]: a development broker; BOOT gets its
# address (a list with --brokers N).
start_broker() {
    _parts=$1
    shift
    "$BIN" broker --partitions "$_parts" "$@" >"$T/b.out" 2>"$T/b.err" &
    BPID=$!
    i=0
    while [ -z "$BOOT" ] && [ $i -lt 100 ]; do
        sleep 0.1
        BOOT=$(head -n 1 "$T/b.out")
        i=$((i + 1))
    done
    [ -n "$BOOT" ] || { bad "broker did not start: $(cat "$T/b.err")"; finish; }
}

# pick_port: a free private port for redis-server.
pick_port() {
    port=$((21000 + $$ % 20000))
    while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
}

# start_redis: redis-server on $port in $T, no persistence; waits for PONG.
start_redis() {
    (cd "$T" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >>"$T/redis.log" 2>&1) &
    RPID=$!
    i=0
    until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do
        i=$((i + 1))
        [ $i -gt 300 ] && { bad "redis-server did not start: $(tail -3 "$T/redis.log")"; finish; }
        sleep 0.01
    done
}

rcli() { redis-cli -p "$port" "$@"; }
