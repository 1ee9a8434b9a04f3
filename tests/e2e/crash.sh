#!/bin/sh
# tests/e2e/crash.sh - exactly-once state across kill -9 (DESIGN.md
# "Delivery and state"): a known stream is produced while the daemon
# consumes it; the daemon is killed with SIGKILL at random moments and
# restarted each time from its checkpoints. At the end:
#   - events_applied and every user's and item's applied-event count in
#     the final checkpoint equal the ground truth computed from the input;
#   - with one partition, the model sections (mf_*) and the feature
#     sections are bit-identical to those of a reference daemon that
#     consumed the same topic at the same time without interruption.
#
# CRASH_KILLS (default 5), CRASH_EVENTS (default 200000), CRASH_PARTITIONS
# (default 1; more: counts only), CRASH_RATE (events/s produced, default
# 5000: the development broker keeps about 5 MB per partition, so the
# consumer may never fall further behind than that, restarts included).
# `make test-crash` runs the long variant (20 kills).
NAME=crash
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
need redis-server redis-cli jq

KILLS=${CRASH_KILLS:-5}
EVENTS=${CRASH_EVENTS:-200000}
PARTS=${CRASH_PARTITIONS:-1}
RATE=${CRASH_RATE:-5000}
REF=""
PROD=""
cleanup_extra() {
    [ -n "$PROD" ] && kill -KILL "$PROD" 2>/dev/null
    [ -n "$REF" ] && kill -KILL "$REF" 2>/dev/null
    return 0
}

start_broker "$PARTS"
pick_port
start_redis
# $T/g.csv and its ground truth $T/truth.tsv (lib/faults.sh)
gen_stream "$EVENTS" 11

# crash_ini NAME GROUP NAMESPACE: a daemon config of its own state dir.
crash_ini() {
    cat >"$T/$1.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
group.id = $2
session.timeout.ms = 3000
heartbeat.interval.ms = 500
[redis]
port = $port
namespace = $3
[features]
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[state]
dir = $T/$1.state
checkpoint_interval_s = 1
checkpoint_events = 20000
[metrics]
interval = 1s
EOF
}
crash_ini victim crash-victim victim
crash_ini ref crash-ref ref

applied_ns() { rcli HGET "$1:model" events_applied 2>/dev/null | tr -d '\r'; }

"$BIN" run -c "$T/ref.ini" >"$T/ref.out" 2>"$T/ref.err" &
REF=$!
"$BIN" run -c "$T/victim.ini" >"$T/victim.0.out" 2>"$T/victim.0.err" &
DPID=$!
"$BIN" produce -q -b "$BOOT" --format confluent --rate "$RATE" "$T/g.csv" \
    >"$T/produce.out" 2>"$T/produce.err" &
PROD=$!

# Kill and restart at random moments while the stream flows. Each run
# waits until it has applied something new since the last kill, so every
# kill interrupts real work (and one may land mid-checkpoint).
seed=$$
kills=0
last=0
while [ "$kills" -lt "$KILLS" ]; do
    i=0
    while [ $i -lt 200 ]; do
        a=$(applied_ns victim)
        [ -n "$a" ] && [ "$a" -gt "$last" ] && break
        sleep 0.05
        i=$((i + 1))
    done
    seed=$(((seed * 1103515245 + 12345) % 2147483648))
    ms=$((100 + seed % 900))
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    kill -KILL "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
    kills=$((kills + 1))
    last=$(applied_ns victim)
    last=${last:-0}
    "$BIN" run -c "$T/victim.ini" >"$T/victim.$kills.out" 2>"$T/victim.$kills.err" &
    DPID=$!
done
[ "$kills" -eq "$KILLS" ] && ok || bad "only $kills kills"

wait "$PROD"
prc=$?
PROD=""
[ $prc -eq 0 ] && ok || bad "produce exited $prc: $(tail -3 "$T/produce.err")"

# Both daemons reach the end of the stream, then stop cleanly (their last
# checkpoint is written at SIGTERM).
for who in victim ref; do
    i=0
    while [ "$(applied_ns $who)" -lt "$EVENTS" ] 2>/dev/null && [ $i -lt 1200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ "$(applied_ns $who)" = "$EVENTS" ] && ok || bad "$who applied $(applied_ns $who) of $EVENTS"
done
for pid in "$DPID" "$REF"; do
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    [ $rc -eq 0 ] && ok || bad "daemon $pid exited $rc after SIGTERM"
done
DPID=""
REF=""
restored=$(grep -l "restored " "$T"/victim.*.err | wc -l)
[ "$restored" -ge "$KILLS" ] && ok || bad "only $restored restarts restored a checkpoint"

# The final checkpoint: events and per-user / per-item counts exact.
"$BIN" checkpoint inspect --json "$T/victim.state" >"$T/victim.json" 2>"$T/inspect.err" ||
    bad "inspect failed: $(cat "$T/inspect.err")"
"$BIN" checkpoint inspect --json "$T/ref.state" >"$T/ref.json" 2>>"$T/inspect.err" ||
    bad "inspect of the reference failed: $(cat "$T/inspect.err")"
got=$(jq -r .events_applied "$T/victim.json")
[ "$got" = "$EVENTS" ] && ok || bad "checkpoint events_applied $got, want $EVENTS"
"$BIN" checkpoint inspect --counts "$T/victim.state" | awk -F'\t' 'NF == 3' | sort >"$T/counts.tsv"
if cmp -s "$T/counts.tsv" "$T/truth.tsv"; then
    ok
else
    bad "per-user/per-item counts differ from the input: $(diff "$T/truth.tsv" "$T/counts.tsv" |
        head -5 | tr '\n' ' ')"
fi

# One partition: the same events in the same order, so the same state.
if [ "$PARTS" -eq 1 ]; then
    sections='mf_users mf_items mf_opt mf_state user_ids item_ids feat_pop feat_covis feat_counts'
    for s in $sections; do
        a=$(jq -r --arg s "$s" '.sections[] | select(.name == $s) | .xxh64' "$T/victim.json")
        b=$(jq -r --arg s "$s" '.sections[] | select(.name == $s) | .xxh64' "$T/ref.json")
        if [ -n "$a" ] && [ "$a" = "$b" ]; then ok; else bad "section $s: $a after $KILLS kills, $b uninterrupted"; fi
    done
fi
echo "crash: $KILLS kills, $EVENTS events, $PARTS partition(s), $restored restores"
finish
