#!/bin/sh
# tests/e2e/broker_fault.sh - the broker goes down and comes back mid-stream
# (`streamrec broker` SIGUSR1 / SIGUSR2 = rd_kafka_mock_broker_set_down/up)
# while a rate-limited producer sends a known stream and `streamrec run`
# consumes it: the producer (idempotent) puts every event in the log exactly
# once, and the daemon consumes and applies every one of them exactly once
# (messages_in and events_applied in the model hash and the summary line
# equal the number of events produced; deduplication is off, so a message
# consumed twice would be applied twice).
NAME=broker_fault
. "$(dirname "$0")/lib/stack.sh"
PPID_="" # the background producer
cleanup_extra() { [ -n "$PPID_" ] && kill -KILL "$PPID_" 2>/dev/null; }
need kcat redis-server redis-cli

# ---- Kafka and Redis ----------------------------------------------------
start_broker 2
pick_port
start_redis
applied() { v=$(rcli HGET streamrec:model events_applied); echo "${v:-0}"; }

# ---- the daemon -------------------------------------------------------------
cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
; see tests/e2e/run.sh: a short session so a lost member is replaced fast
session.timeout.ms = 3000
heartbeat.interval.ms = 500
; reconnect quickly once the broker is back
reconnect.backoff.ms = 100
reconnect.backoff.max.ms = 500
[redis]
port = $port
[features]
; every event must be applied, whatever the partition interleaving, and a
; message consumed twice must show as applied twice
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[publish]
interval_ms = 50
[source]
commit_interval = 200ms
EOF
cat >"$T/produce.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
; retries after the outage must not write an event twice
enable.idempotence = true
reconnect.backoff.ms = 100
reconnect.backoff.max.ms = 500
EOF

wait_model() { # FIELD VALUE SECONDS: until the model hash field has the value
    k=0
    while [ "$(rcli HGET streamrec:model "$1")" != "$2" ] && [ $k -lt $(($3 * 10)) ]; do
        sleep 0.1
        k=$((k + 1))
    done
    [ "$(rcli HGET streamrec:model "$1")" = "$2" ]
}

"$BIN" run -c "$T/run.ini" >"$T/run.out" 2>"$T/run.err" &
DPID=$!

# ---- the stream, with an outage in the middle -------------------------------
N=3000
RATE=500 # about 6 s of producing
"$BIN" gen --events $N --users 150 --items 300 --seed 23 --out "$T/g.csv" 2>/dev/null || bad "gen"
# Let the daemon join the group first, so the outage hits a running consumer.
sleep 1.5
"$BIN" produce -q -c "$T/produce.ini" --rate $RATE --format json "$T/g.csv" >"$T/p.out" 2>"$T/p.err" &
PPID_=$!
# Down once the daemon has applied part of the stream.
k=0
while [ "$(applied)" -lt 500 ] && [ $k -lt 150 ]; do
    sleep 0.1
    k=$((k + 1))
done
before=$(applied)
[ "$before" -ge 500 ] && ok || bad "daemon applied $before events before the outage"
kill -USR1 "$BPID"
sleep 4 # longer than the session timeout: the group must recover
during=$(applied)
kill -USR2 "$BPID"
sleep 0.3
# The outage really stopped consumption (at most what was already fetched).
[ "$during" -lt "$N" ] && ok || bad "outage did not stop the stream (applied $during of $N)"
grep -q "down (SIGUSR1)" "$T/b.err" && grep -q "up (SIGUSR2)" "$T/b.err" && ok ||
    bad "broker log: $(cat "$T/b.err")"

wait "$PPID_"
rc=$?
echo "  applied before the outage $before, at its end $during" >&2
PPID_=""
[ $rc -eq 0 ] && ok || bad "produce exit $rc: $(tail -3 "$T/p.err")"

# Exactly N events in the log (the producer did not write any twice).
kcat -C -b "$BOOT" -t events -o beginning -e -q -f '.\n' 2>/dev/null | wc -l >"$T/inlog"
[ "$(cat "$T/inlog")" -eq "$N" ] && ok || bad "the events topic holds $(cat "$T/inlog") messages, want $N"

wait_model events_applied $N 40 && ok ||
    bad "events_applied $(rcli HGET streamrec:model events_applied), want $N"
sleep 2 # a message consumed twice would show up by now
[ "$(rcli HGET streamrec:model events_applied)" = "$N" ] && ok ||
    bad "after settling: events_applied $(rcli HGET streamrec:model events_applied), want $N"
[ "$(rcli HGET streamrec:model messages_in)" = "$N" ] && ok ||
    bad "messages_in $(rcli HGET streamrec:model messages_in), want $N"

# SIGTERM: clean exit, and the summary agrees.
kill -TERM "$DPID"
k=0
while kill -0 "$DPID" 2>/dev/null && [ $k -lt 100 ]; do sleep 0.1; k=$((k + 1)); done
kill -0 "$DPID" 2>/dev/null && { bad "daemon still running 10 s after SIGTERM"; kill -KILL "$DPID"; }
wait "$DPID"
rc=$?
DPID=""
[ $rc -eq 0 ] && ok || { bad "daemon exit $rc"; tail -5 "$T/run.err"; }
grep -q "$N messages, $N events applied, 0 dead letters" "$T/run.err" && ok ||
    bad "summary: $(tail -1 "$T/run.err")"

finish
