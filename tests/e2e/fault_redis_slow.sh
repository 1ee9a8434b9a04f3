#!/bin/sh
# tests/e2e/fault_redis_slow.sh - a stalled Redis: `CLIENT PAUSE 6000 ALL`
# (the server holds every client's commands for 6 s, longer than the
# daemon's redis.timeout; DEBUG SLEEP would need enable-debug-command)
# while part of a known stream is produced and
# `streamrec run` consumes it with checkpoints on. The learner does not wait
# for Redis: the newest checkpoint's events_applied reaches the end of that
# part while Redis is still asleep. Afterwards the lists of the users of the
# stalled part and of the rest appear, stamped with a model version newer
# than the last one published before the stall; the final checkpoint holds
# every event exactly once (events_applied and every user's and item's
# count equal the ground truth) and SIGTERM exits 0.
NAME=fault_redis_slow
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
need kcat redis-server redis-cli jq timeout

start_broker 2
pick_port
start_redis
N=5000
gen_stream $N 37 --users 200 --items 400
head -n 1 "$T/g.csv" >"$T/hdr"
part() { { cat "$T/hdr"; tail -n +2 "$T/g.csv" | sed -n "$1,$2p"; } >"$T/$3.csv"; }
part 1 2000 a    # before the stall
part 2001 4000 b # while Redis sleeps
part 4001 5000 c # after it
daemon_ini
ck_applied() {
    v=$("$BIN" checkpoint inspect --json "$T/state" 2>/dev/null | jq -r .events_applied)
    echo "${v:-0}"
}
ver_n() { printf '%s' "$1" | sed -n 's/^{"v":"[0-9]*-\([0-9]*\)".*/\1/p'; }
# asleep: Redis does not answer a PING within 0.3 s
asleep() { ! timeout 0.3 redis-cli -p "$port" ping >/dev/null 2>&1; }

start_daemon
"$BIN" produce -q -b "$BOOT" --format json "$T/a.csv" 2>"$T/p.err" || bad "produce a: $(tail -3 "$T/p.err")"
wait_applied 2000 20 && ok || bad "daemon applied $(applied) events before the stall"
sleep 0.3 # a publish round after the last count
before=$(rcli HGET streamrec:model version)
before_n=${before#*-}
[ "$before_n" = 2000 ] && ok || bad "model version $before before the stall, want ...-2000"

# ---- the stall -----------------------------------------------------------------
[ "$(rcli CLIENT PAUSE 6000 ALL)" = OK ] && ok || bad "CLIENT PAUSE refused"
paused_at=$(date +%s)
asleep && ok || bad "Redis still answers during CLIENT PAUSE"
"$BIN" produce -q -b "$BOOT" --rate 2000 --format json "$T/b.csv" 2>"$T/p.err" ||
    bad "produce b: $(tail -3 "$T/p.err")"
# The learner applies part b while Redis sleeps: a checkpoint has it all.
k=0
while [ "$(ck_applied)" -lt 4000 ] && [ $k -lt 30 ]; do
    sleep 0.1
    k=$((k + 1))
done
during=$(ck_applied)
if asleep; then stalled=yes; else stalled=no; fi
[ "$during" -ge 4000 ] && [ $stalled = yes ] && ok ||
    bad "while Redis slept the checkpoints reached $during events of 4000 (Redis still asleep: $stalled)"
alive "while Redis was stalled"
until ! asleep; do sleep 0.2; done # the pause ends
echo "  Redis stalled for about $(($(date +%s) - paused_at)) s" >&2

# ---- after the stall ----------------------------------------------------------
"$BIN" produce -q -b "$BOOT" --format json "$T/c.csv" 2>"$T/p.err" || bad "produce c: $(tail -3 "$T/p.err")"
wait_applied $N 30 && ok || bad "model hash events_applied $(applied), want $N"
sleep 0.5 # the lists of the last round
cat "$T/b.csv" "$T/c.csv" | grep -v '^event_id,' | cut -d, -f3 | sort -u >"$T/active"
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
[ $stale -eq 0 ] && ok || bad "$stale active users have a list older than the stall"
grep -qi "redis" "$T/run.err" && ok || bad "the stall left no trace in the log"
stop_daemon
grep -q "$N messages, $N events applied, 0 dead letters" "$T/run.err" && ok ||
    bad "summary: $(tail -1 "$T/run.err")"
check_exact $N
echo "  checkpointed while Redis slept: $during events" >&2
finish
