#!/bin/sh
# scripts/bench-recovery.sh [OUT.json] - part of `make bench`: how long
# `streamrec run` is out after a kill -9, from the kill to the first event
# applied by its successor, with a large state (bench/recovery.json; keys
# are an interface: add, never rename).
#
#   1. `streamrec gen` writes SR_RECOVERY_EVENTS events (default 9M) over
#      SR_RECOVERY_USERS users (default 1M, uniform activity; sessions of
#      about eight events, so about 0.9M of them appear) and 100k items; `streamrec
#      replay --checkpoint-every` learns them and leaves one checkpoint.
#   2. A dev broker (one partition) and a throwaway redis-server; the
#      daemon starts from that checkpoint (restore time from its log) while
#      a trickle of new events is produced (1000/s).
#   3. Once the daemon has applied new events and written a checkpoint of
#      its own (its learner pause for the copy and the write time are
#      reported too), it is killed with SIGKILL and restarted at once; the
#      recovery time is kill -> "first message applied" in the new log.
#      It includes the consumer group noticing the dead member
#      (session.timeout.ms, 3000 here) and the new member's assignment.
set -u
BIN=${SR_BIN:-build/streamrec}
OUT=${1:-bench/recovery.json}
EVENTS=${SR_RECOVERY_EVENTS:-9000000}
USERS=${SR_RECOVERY_USERS:-1000000}
T=$(mktemp -d)
BPID=""
RPID=""
DPID=""
PPID_LOAD=""
cleanup() {
    for p in $PPID_LOAD $DPID $BPID $RPID; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
say() { echo "bench-recovery: $*" >&2; }
die() {
    say "$*"
    for f in "$T"/d*.err; do [ -s "$f" ] && tail -3 "$f" >&2; done
    exit 1
}
# ms_of LOGLINE: Unix ms of a log line's ISO timestamp.
ms_of() { date -d "$(echo "$1" | cut -d' ' -f1)" +%s%3N; }
now_ms() { date +%s%3N; }

[ -x "$BIN" ] || die "no $BIN (make)"
say "gen $EVENTS events over $USERS users, replay to a checkpoint..."
"$BIN" gen --events "$EVENTS" --users "$USERS" --user-zipf 0 --items 100000 --seed 3 \
    --out "$T/big.csv" 2>/dev/null ||
    die "gen failed"
"$BIN" replay "$T/big.csv" --no-eval -q -o features.allowed_lateness=3650d -o features.dedup_window=0 \
    -o features.bot_max_events=0 -o "state.dir=$T/state" \
    --checkpoint-every "$EVENTS" 2>"$T/replay.err" || die "replay failed: $(cat "$T/replay.err")"
rm -f "$T/big.csv"
"$BIN" checkpoint inspect --json "$T/state" >"$T/ckpt.json" || die "no checkpoint"
"$BIN" gen --events 200000 --users 50000 --seed 4 --start-ts 1800000000000 --out "$T/trickle.csv" \
    2>/dev/null || die "gen failed"

"$BIN" broker --partitions 1 >"$T/b.out" 2>"$T/b.err" &
BPID=$!
port=$((23000 + $$ % 20000))
while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
(cd "$T" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$T/redis.log" 2>&1) &
RPID=$!
BOOT=""
i=0
while [ -z "$BOOT" ] && [ $i -lt 100 ]; do sleep 0.1; BOOT=$(head -n 1 "$T/b.out"); i=$((i + 1)); done
[ -n "$BOOT" ] || die "broker did not start"
cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
session.timeout.ms = 3000
heartbeat.interval.ms = 500
[redis]
port = $port
[features]
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[state]
dir = $T/state
checkpoint_interval_s = 2
checkpoint_events = 0
EOF
"$BIN" produce -q -b "$BOOT" --rate 1000 "$T/trickle.csv" >/dev/null 2>"$T/load.err" &
PPID_LOAD=$!

# wait_log FILE PATTERN SECONDS: the first matching line, or die.
wait_log() {
    k=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        k=$((k + 1))
        [ $k -gt $(($3 * 20)) ] && die "no '$2' in $1 after $3 s"
        sleep 0.05
    done
    grep -m 1 "$2" "$1"
}

say "daemon from the checkpoint ($(jq .users "$T/ckpt.json") users)..."
"$BIN" run -c "$T/run.ini" >/dev/null 2>"$T/d0.err" &
DPID=$!
line=$(wait_log "$T/d0.err" "first message applied" 120)
restore0=$(echo "$line" | sed -n 's/.*checkpoint restore \([0-9]*\) ms.*/\1/p')
first0=$(echo "$line" | sed -n 's/.*applied \([0-9]*\) ms after start.*/\1/p')
# a checkpoint of its own: the newest file is newer than the replay's
before=$(ls "$T/state" | sort | tail -n 1)
k=0
while [ "$(ls "$T/state" | sort | tail -n 1)" = "$before" ]; do
    k=$((k + 1))
    [ $k -gt 1200 ] && die "the daemon wrote no checkpoint in 60 s"
    sleep 0.05
done
own=$(wait_log "$T/d0.err" "learner pause" 60)
pause=$(echo "$own" | sed -n 's/.*learner pause \([0-9]*\) ms.*/\1/p')
write=$(echo "$own" | sed -n 's/.*written in \([0-9]*\) ms.*/\1/p')
sleep 1
say "kill -9 and restart..."
t_kill=$(now_ms)
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
"$BIN" run -c "$T/run.ini" >/dev/null 2>"$T/d1.err" &
DPID=$!
line=$(wait_log "$T/d1.err" "first message applied" 120)
t_first=$(ms_of "$line")
restore1=$(echo "$line" | sed -n 's/.*checkpoint restore \([0-9]*\) ms.*/\1/p')
kill -TERM "$DPID"
wait "$DPID"
DPID=""

recovery=$((t_first - t_kill))
mkdir -p "$(dirname "$OUT")"
jq -n --argjson users "$(jq .users "$T/ckpt.json")" --argjson items "$(jq .items "$T/ckpt.json")" \
    --argjson bytes "$(jq .bytes "$T/ckpt.json")" --argjson restore0 "${restore0:-0}" \
    --argjson first0 "${first0:-0}" --argjson restore1 "${restore1:-0}" \
    --argjson recovery "$recovery" --argjson pause "${pause:-0}" --argjson write "${write:-0}" '{
        checkpoint_users: $users, checkpoint_items: $items, checkpoint_file_bytes: $bytes,
        cold_restore_ms: $restore0, cold_first_applied_ms: $first0,
        recovery_ms: $recovery, recovery_restore_ms: $restore1,
        recovery_group_and_fetch_ms: ($recovery - $restore1),
        session_timeout_ms: 3000,
        daemon_checkpoint_pause_ms: $pause, daemon_checkpoint_write_ms: $write,
        restore_mb_per_s: (if $restore1 > 0 then $bytes / 1048576 / ($restore1 / 1000) else 0 end),
        daemon_checkpoint_write_mb_per_s:
            (if $write > 0 then $bytes / 1048576 / ($write / 1000) else 0 end)
    }' >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
printf 'recovery_ms %s (kill -9 -> first event applied; checkpoint restore %s ms of it, %s users, %s MB)\n' \
    "$recovery" "$restore1" "$(jq .users "$T/ckpt.json")" "$(($(jq .bytes "$T/ckpt.json") / 1048576))"
echo "wrote $OUT"
