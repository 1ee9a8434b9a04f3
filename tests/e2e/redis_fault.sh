#!/bin/sh
# tests/e2e/redis_fault.sh - redis-server is killed (SIGKILL) mid-stream and
# started again on the same port, empty, while a rate-limited producer sends
# a known stream and `streamrec run` consumes it: the daemon keeps running
# and applying (every event applied), publishing resumes on its own (model
# hash, trending), the users active since the kill have their lists
# back with a model version newer than the last one published before the
# kill, and SIGTERM still exits 0.
NAME=redis_fault
. "$(dirname "$0")/lib/stack.sh"
need kcat redis-server redis-cli

# ---- Kafka and Redis ----------------------------------------------------
start_broker 2
pick_port
start_redis
applied() { v=$(rcli HGET streamrec:model events_applied); echo "${v:-0}"; }

cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
[redis]
port = $port
backoff_min = 50ms
backoff_max = 500ms
connect_timeout = 500ms
timeout = 1s
[features]
; every event applied, whatever the partition interleaving
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[publish]
interval_ms = 50
[run]
trending_interval = 100ms
sim_interval = 100ms
EOF
wait_applied() { # COUNT SECONDS: until events_applied >= COUNT
    k=0
    while [ "$(applied)" -lt "$1" ] && [ $k -lt $(($2 * 10)) ]; do
        sleep 0.1
        k=$((k + 1))
    done
    [ "$(applied)" -ge "$1" ]
}
# ver_n VALUE: the applied-events count of a value's "v" ("<start>-<applied>")
ver_n() { printf '%s' "$1" | sed -n 's/^{"v":"[0-9]*-\([0-9]*\)".*/\1/p'; }

N=3000
"$BIN" gen --events $N --users 150 --items 300 --seed 31 --out "$T/g.csv" 2>/dev/null || bad "gen"
head -n 1 "$T/g.csv" >"$T/hdr"
part() { { cat "$T/hdr"; tail -n +2 "$T/g.csv" | sed -n "$1,$2p"; } >"$T/$3.csv"; }
part 1 1000 a   # before the kill
part 1001 2000 b # while Redis is down
part 2001 3000 c # after the restart
"$BIN" run -c "$T/run.ini" >"$T/run.out" 2>"$T/run.err" &
DPID=$!
"$BIN" produce -q -b "$BOOT" --format json "$T/a.csv" 2>"$T/p.err" || bad "produce a: $(tail -3 "$T/p.err")"

# ---- kill Redis mid-stream ----------------------------------------------------
wait_applied 1000 30 && ok || bad "daemon applied $(applied) events before the kill, want 1000"
sleep 0.3 # a publish round after the last count
before=$(rcli HGET streamrec:model version)
before_n=${before#*-}
[ "$before_n" = 1000 ] && ok || bad "model version $before before the kill, want ...-1000"
[ -n "$(rcli GET streamrec:trending:1h)" ] && ok || bad "no trending list before the kill"
kill -KILL "$RPID"
wait "$RPID" 2>/dev/null
RPID=""
# Events keep coming while Redis is down (2 s).
"$BIN" produce -q -b "$BOOT" --rate 500 --format json "$T/b.csv" 2>"$T/p.err" ||
    bad "produce b: $(tail -3 "$T/p.err")"
kill -0 "$DPID" 2>/dev/null && ok || bad "daemon died while Redis was down: $(tail -3 "$T/run.err")"
start_redis
[ -z "$(rcli GET streamrec:trending:1h)" ] && ok || bad "the restarted Redis is not empty"
"$BIN" produce -q -b "$BOOT" --rate 500 --format json "$T/c.csv" 2>"$T/p.err" ||
    bad "produce c: $(tail -3 "$T/p.err")"

# ---- publishing resumed -------------------------------------------------------
k=0
while [ "$(rcli HGET streamrec:model events_applied)" != "$N" ] && [ $k -lt 300 ]; do
    sleep 0.1
    k=$((k + 1))
done
[ "$(rcli HGET streamrec:model events_applied)" = "$N" ] && ok ||
    bad "model hash after the restart: events_applied '$(rcli HGET streamrec:model events_applied)', want $N"
kill -0 "$DPID" 2>/dev/null && ok || bad "daemon died: $(tail -3 "$T/run.err")"
after=$(rcli HGET streamrec:model version)
[ "${after%-*}" = "${before%-*}" ] && [ "${after#*-}" -gt "$before_n" ] && ok ||
    bad "model version $after after the restart, $before before"
sleep 0.5 # the lists of the last round
t=$(rcli GET streamrec:trending:1h)
[ "$(ver_n "$t")" -gt "$before_n" ] 2>/dev/null && ok || bad "trending after the restart: $(echo "$t" | cut -c1-80)"

# The users of the events produced after the kill (while Redis was down and
# after the restart): lists back, newer than anything published before.
cat "$T/b.csv" "$T/c.csv" | grep -v '^event_id,' | cut -d, -f3 | sort -u >"$T/active"
[ "$(wc -l <"$T/active")" -ge 5 ] || bad "too few active users"
missing=0
stale=0
for u in $(cat "$T/active"); do
    v=$(rcli GET "streamrec:rec:$u")
    if [ -z "$v" ]; then
        missing=$((missing + 1))
        echo "  no list for $u"
    elif ! [ "$(ver_n "$v")" -gt "$before_n" ] 2>/dev/null; then
        stale=$((stale + 1))
        echo "  $u: $(echo "$v" | cut -c1-60), published before the kill at $before"
    fi
done
[ $missing -eq 0 ] && ok || bad "$missing of $(wc -l <"$T/active") active users have no list"
[ $stale -eq 0 ] && ok || bad "$stale active users have a list older than the restart"
grep -q "lost the Redis connection" "$T/run.err" && grep -q "connected to Redis at .* (after" "$T/run.err" && ok ||
    bad "no reconnection in the log: $(grep -i redis "$T/run.err" | tail -3)"

# SIGTERM: clean exit, every event applied.
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
