#!/bin/sh
# tests/e2e/broker.sh - `streamrec broker`: prints its bootstrap address,
# has the three topics, carries messages produced and consumed with kcat,
# listens on the --port asked for (and says so when it is taken), and
# exits 0 on SIGTERM.
set -u
BIN=${SR_BIN:-build/streamrec}
T=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

if ! command -v kcat >/dev/null 2>&1; then
    echo "broker: kcat not installed (scripts/deps.sh); skipped"
    echo "broker: 0 passed, 0 failed"
    exit 0
fi

# start_broker NAME ARGS...: starts a broker, sets BOOT and PID (empty BOOT on failure).
start_broker() {
    name=$1
    shift
    "$BIN" broker "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PID=$!
    pids="$pids $PID"
    BOOT=""
    i=0
    while [ $i -lt 100 ]; do
        BOOT=$(head -n 1 "$T/$name.out" 2>/dev/null)
        [ -n "$BOOT" ] && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# stop PID: SIGTERM, then the exit code must be 0 within 5 s.
stop() {
    kill -TERM "$1"
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1"
        bad "broker still running 5 s after SIGTERM"
        return
    fi
    wait "$1"
    rc=$?
    [ "$rc" -eq 0 ] && ok || bad "exit code $rc after SIGTERM"
}

start_broker a --partitions 3
case "$BOOT" in
127.0.0.1:[0-9]*) ok ;;
*) bad "bootstrap line '$BOOT'"; cat "$T/a.err" ;;
esac
[ "$(wc -l <"$T/a.out")" -eq 1 ] && ok || bad "stdout is not one line"
PID_A=$PID
PORT=${BOOT#*:}

# Topics and partition counts.
kcat -b "$BOOT" -L >"$T/meta" 2>&1
grep -q 'topic "events" with 3 partitions' "$T/meta" && ok || bad "events topic: $(cat "$T/meta")"
grep -q 'topic "streamrec.dlq" with 1 partitions' "$T/meta" && ok || bad "dlq topic"
grep -q 'topic "streamrec.metrics" with 1 partitions' "$T/meta" && ok || bad "metrics topic"

# Produce keyed messages, consume them back.
printf 'u1:hello\nu2:world\nu3:third\nu1:again\n' |
    kcat -b "$BOOT" -P -t events -K: 2>"$T/p.err" || bad "kcat produce: $(cat "$T/p.err")"
kcat -b "$BOOT" -C -t events -o beginning -e -q -f '%k=%s\n' >"$T/got" 2>"$T/c.err"
sort "$T/got" >"$T/got.sorted"
printf 'u1=again\nu1=hello\nu2=world\nu3=third\n' >"$T/want"
cmp -s "$T/got.sorted" "$T/want" && ok || bad "consumed: $(cat "$T/got")"
# Same key, same partition: u1's two messages are in one partition, in order.
kcat -b "$BOOT" -C -t events -o beginning -e -q -f '%p %k %s\n' | grep ' u1 ' >"$T/u1"
[ "$(cut -d' ' -f1 "$T/u1" | sort -u | wc -l)" -eq 1 ] && ok || bad "key u1 in two partitions"
[ "$(cut -d' ' -f3 "$T/u1" | tr '\n' ' ')" = "hello again " ] && ok || bad "u1 order: $(cat "$T/u1")"

# The port is taken now: a second broker on it fails with one line.
"$BIN" broker --port "$PORT" >"$T/b.out" 2>"$T/b.err" &
PID_B=$!
i=0
while kill -0 "$PID_B" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$PID_B" 2>/dev/null; then
    kill -TERM "$PID_B"
    bad "second broker on a taken port is running"
else
    wait "$PID_B"
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/b.err")" -eq 1 ] && grep -q "$PORT" "$T/b.err"; then ok; else
        bad "taken port: rc $rc: $(cat "$T/b.err")"
    fi
fi

stop "$PID_A"

# --port: the freed port, asked for explicitly.
sleep 0.2
if start_broker c --port "$PORT"; then
    [ "$BOOT" = "127.0.0.1:$PORT" ] && ok || bad "--port $PORT gave '$BOOT'"
    kcat -b "127.0.0.1:$PORT" -L 2>&1 | grep -q "broker 1 at 127.0.0.1:$PORT" && ok ||
        bad "metadata does not advertise port $PORT"
    stop "$PID"
else
    bad "broker --port $PORT: $(cat "$T/c.err")"
fi

# Bad flags are usage errors.
"$BIN" broker --partitions 0 >/dev/null 2>"$T/e" && bad "--partitions 0 accepted" || ok
grep -q "partitions" "$T/e" && ok || bad "--partitions error: $(cat "$T/e")"

echo "broker: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
