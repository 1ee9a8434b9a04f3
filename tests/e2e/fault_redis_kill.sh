#!/bin/sh
# tests/e2e/fault_redis_kill.sh - redis-server is killed (SIGKILL) mid-stream
# and started again, empty, on the same port while a rate-limited producer
# sends a known stream and `streamrec run` consumes it with checkpoints on.
# While Redis is down the daemon keeps applying and checkpointing (the
# newest checkpoint's events_applied grows); after the restart publishing
# resumes on its own (model hash, the lists of the users active since the
# kill, stamped with a newer model version); the final checkpoint holds
# every event exactly once (events_applied and every user's and item's
# count equal the ground truth) and SIGTERM exits 0.
NAME=fault_redis_kill
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
PROD=""
cleanup_extra() { [ -n "$PROD" ] && kill -KILL "$PROD" 2>/dev/null; return 0; }
need kcat redis-server redis-cli jq

start_broker 2
pick_port
start_redis
N=6000
gen_stream $N 31 --users 200 --items 400
daemon_ini
# ck_applied: events_applied of the newest valid checkpoint (0: none yet)
ck_applied() {
    v=$("$BIN" checkpoint inspect --json "$T/state" 2>/dev/null | jq -r .events_applied)
    echo "${v:-0}"
}
# ver_n VALUE: the applied-events count of a value's "v" ("<start>-<applied>")
ver_n() { printf '%s' "$1" | sed -n 's/^{"v":"[0-9]*-\([0-9]*\)".*/\1/p'; }

start_daemon
"$BIN" produce -q -b "$BOOT" --rate 1000 --format json "$T/g.csv" >"$T/p.out" 2>"$T/p.err" &
PROD=$!
wait_applied 1500 20 && ok || bad "daemon applied $(applied) events before the kill"
sleep 0.2
before=$(rcli HGET streamrec:model version)
before_n=${before#*-}
kill -KILL "$RPID"
wait "$RPID" 2>/dev/null
RPID=""
ck0=$(ck_applied)
sleep 2.5 # Redis down; events keep coming, checkpoints keep being written
ck1=$(ck_applied)
alive "while Redis was down"
[ "$ck1" -gt "$ck0" ] && ok || bad "no newer checkpoint while Redis was down ($ck0, then $ck1)"
start_redis
[ -z "$(rcli HGET streamrec:model version)" ] && ok || bad "the restarted Redis is not empty"
wait "$PROD"
rc=$?
PROD=""
[ $rc -eq 0 ] && ok || bad "produce exit $rc: $(tail -3 "$T/p.err")"

# Publishing resumed: the model hash is back with every event.
wait_applied $N 30 && ok || bad "model hash after the restart: events_applied $(applied), want $N"
after=$(rcli HGET streamrec:model version)
[ "${after#*-}" -gt "$before_n" ] 2>/dev/null && ok || bad "model version $after after the restart, $before before"
sleep 0.5 # the lists of the last round
# The users of the last 1000 events (produced after the restart): lists
# back, newer than anything published before the kill.
tail -n 1000 "$T/g.csv" | cut -d, -f3 | sort -u >"$T/active"
missing=0
stale=0
for u in $(cat "$T/active"); do
    v=$(rcli GET "streamrec:rec:$u")
    if [ -z "$v" ]; then
        missing=$((missing + 1))
    elif ! [ "$(ver_n "$v")" -gt "$before_n" ] 2>/dev/null; then
        stale=$((stale + 1))
    fi
done
[ $missing -eq 0 ] && ok || bad "$missing of $(wc -l <"$T/active") active users have no list"
[ $stale -eq 0 ] && ok || bad "$stale active users have a list older than the restart"
grep -q "lost the Redis connection" "$T/run.err" && grep -q "connected to Redis at .* (after" "$T/run.err" && ok ||
    bad "no reconnection in the log: $(grep -i redis "$T/run.err" | tail -3)"
stop_daemon
grep -q "$N messages, $N events applied, 0 dead letters" "$T/run.err" && ok ||
    bad "summary: $(tail -1 "$T/run.err")"
check_exact $N
echo "  checkpointed while Redis was down: $ck0 -> $ck1 events" >&2
finish
