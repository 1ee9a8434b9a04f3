#!/bin/sh
# tests/e2e/fault_broker.sh - the broker goes down and comes back mid-stream
# (`streamrec broker` SIGUSR1 / SIGUSR2) while an idempotent, rate-limited
# producer sends a known stream and `streamrec run` consumes it with
# checkpoints on (state.dir; its group is rebuilt after the outage and its
# partitions are read from the model's own offsets). At the end the final
# checkpoint holds every event exactly once: events_applied and every
# user's and item's count equal the ground truth, and the daemon ran
# through it all and exits 0 on SIGTERM.
NAME=fault_broker
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
PROD=""
cleanup_extra() { [ -n "$PROD" ] && kill -KILL "$PROD" 2>/dev/null; return 0; }
need kcat redis-server redis-cli jq

start_broker 2
pick_port
start_redis
N=6000
gen_stream $N 23 --users 300 --items 500
daemon_ini
cat >"$T/produce.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
; retries after the outage must not write an event twice
enable.idempotence = true
reconnect.backoff.ms = 100
reconnect.backoff.max.ms = 500
EOF
start_daemon
sleep 1.5 # the daemon joins the group first: the outage hits a running consumer
"$BIN" produce -q -c "$T/produce.ini" --rate 1000 --format json "$T/g.csv" >"$T/p.out" 2>"$T/p.err" &
PROD=$!

wait_applied 1500 20 && ok || bad "daemon applied $(applied) events before the outage"
before=$(applied)
kill -USR1 "$BPID"
sleep 4 # longer than the session timeout: the group must be rebuilt
during=$(applied)
kill -USR2 "$BPID"
sleep 0.3
alive "during the outage"
[ "$during" -lt $N ] && ok || bad "the outage did not stop the stream (applied $during of $N)"

grep -q "down (SIGUSR1)" "$T/b.err" && grep -q "up (SIGUSR2)" "$T/b.err" && ok ||
    bad "broker log: $(cat "$T/b.err")"
wait "$PROD"
rc=$?
PROD=""
[ $rc -eq 0 ] && ok || bad "produce exit $rc: $(tail -3 "$T/p.err")"
n_log=$(kcat -C -b "$BOOT" -t events -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)
[ "$n_log" -eq $N ] && ok || bad "the events topic holds $n_log messages, want $N"

wait_applied $N 30 && ok || bad "events_applied $(applied), want $N"
sleep 1 # a message consumed twice would show by now
[ "$(applied)" = $N ] && ok || bad "after settling: events_applied $(applied), want $N"
alive "after the outage"
stop_daemon
grep -q "$N messages, $N events applied, 0 dead letters" "$T/run.err" && ok ||
    bad "summary: $(tail -1 "$T/run.err")"
check_exact $N
echo "  applied before the outage $before, at its end $during" >&2
finish
