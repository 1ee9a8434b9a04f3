#!/bin/sh
# tests/e2e/fault_leader.sh - partition leader changes mid-stream: a mock
# cluster of three brokers (`streamrec broker --brokers 3`), and SIGHUP moves
# the leader of every partition of events to the next broker, four times
# while an idempotent, rate-limited producer sends a known stream and
# `streamrec run` consumes it with checkpoints on. The fetches and produces
# to the old leader fail with NOT_LEADER_OR_FOLLOWER and the clients move
# over. At the end the final checkpoint holds every event exactly once
# (events_applied and every user's and item's count equal the ground truth)
# and the daemon ran throughout and exits 0 on SIGTERM.
NAME=fault_leader
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
PROD=""
cleanup_extra() { [ -n "$PROD" ] && kill -KILL "$PROD" 2>/dev/null; return 0; }
need kcat redis-server redis-cli jq

start_broker 4 --brokers 3
pick_port
start_redis
N=8000
gen_stream $N 29 --users 300 --items 500
# debug = topic: librdkafka logs each partition's move to a new leader
daemon_ini "[kafka]
debug = topic"
cat >"$T/produce.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
enable.idempotence = true
EOF
# leader P: the leader of partition P of events, from the cluster's metadata
leader() {
    kcat -L -b "$BOOT" -t events 2>/dev/null |
        sed -n "s/^ *partition $1, leader \([0-9-]*\),.*/\1/p"
}
[ "$(leader 0)" = 1 ] && [ "$(leader 1)" = 2 ] && [ "$(leader 2)" = 3 ] && ok ||
    bad "leaders at start: $(leader 0) $(leader 1) $(leader 2), want 1 2 3"

start_daemon
sleep 1.5 # the daemon joins the group first
"$BIN" produce -q -c "$T/produce.ini" --rate 1000 --format json "$T/g.csv" >"$T/p.out" 2>"$T/p.err" &
PROD=$!
wait_applied 1000 20 && ok || bad "daemon applied $(applied) events before the first move"

# Four moves, 1.2 s apart: partition 0 goes 1 -> 2 -> 3 -> 1 -> 2.
moves=0
want=1
while [ $moves -lt 4 ]; do
    a0=$(applied)
    kill -HUP "$BPID"
    moves=$((moves + 1))
    want=$((want % 3 + 1))
    sleep 1.2
    got=$(leader 0)
    [ "$got" = "$want" ] && ok || bad "after move $moves the leader of partition 0 is '$got', want $want"
    echo "  move $moves: leader of partition 0 now $got, applied $a0 -> $(applied)" >&2
done
alive "during the leader changes"
[ "$(grep -c "leader change (SIGHUP)" "$T/b.err")" -eq 4 ] && ok || bad "broker log: $(cat "$T/b.err")"

wait "$PROD"
rc=$?
PROD=""
[ $rc -eq 0 ] && ok || bad "produce exit $rc: $(tail -3 "$T/p.err")"
n_log=$(kcat -C -b "$BOOT" -t events -o beginning -e -q -f '.\n' 2>/dev/null | wc -l)
[ "$n_log" -eq $N ] && ok || bad "the events topic holds $n_log messages, want $N"
# The daemon's consumer really followed: partition 0 migrated from one
# broker to another once per move (librdkafka's BRKMIGR debug lines).
migr=$(grep -c "consumer.*Migrating topic events \[0\] .* from 127" "$T/run.err")
[ "$migr" -ge 4 ] && ok || bad "the consumer moved partition 0 $migr times, want 4"
wait_applied $N 30 && ok || bad "events_applied $(applied), want $N"
sleep 1
[ "$(applied)" = $N ] && ok || bad "after settling: events_applied $(applied), want $N"
stop_daemon
grep -q "$N messages, $N events applied, 0 dead letters" "$T/run.err" && ok ||
    bad "summary: $(tail -1 "$T/run.err")"
check_exact $N
finish
