#!/bin/sh
# scripts/demo-stream.sh [BIN] - the streaming pipeline end to end, on this
# machine only: a development Kafka broker (`streamrec broker`) and a
# throwaway redis-server on private ports, `streamrec run` consuming while
# `streamrec produce` streams the Taobao sample from ../shared/data (or a
# `streamrec gen` stream when it is not there); then throughput, freshness
# and online accuracy from the metrics topic, a few users' recommendations
# (`streamrec recs`), one metrics record, the checkpoint the daemon wrote at
# shutdown (`streamrec checkpoint inspect`), and everything it started is
# stopped (also on Ctrl-C). Under 2 minutes.
#
#   DEMO_RATE=N    produce at most N events/s (default 50000; 0 = unlimited)
#   SR_DATA=DIR    the shared datasets (default ../shared/data)
#   DEMO_KEEP=1    keep the temp dir (config, logs) and say where it is
set -eu
BIN=${1:-build/streamrec}
case "$BIN" in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
DATA=${SR_DATA:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}
RATE=${DEMO_RATE:-50000}
NS=streamrec
T=$(mktemp -d "${TMPDIR:-/tmp}/streamrec-demo.XXXXXX")

broker_pid='' redis_pid='' daemon_pid=''
# stop PID NAME SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ "$i" -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$1" 2>/dev/null; then
        echo "demo: $2 did not stop within $3 s; killed" >&2
        kill -KILL "$1" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}
cleanup() {
    trap - EXIT INT TERM HUP PIPE
    stop "$daemon_pid" "streamrec run" 10
    stop "$broker_pid" "streamrec broker" 5
    stop "$redis_pid" "redis-server" 5
    daemon_pid='' broker_pid='' redis_pid=''
    if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: logs and config kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 141' PIPE

die() {
    echo "demo: $*" >&2
    exit 1
}
for tool in redis-server redis-cli kcat jq; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/deps.sh installs it)"
done
[ -x "$BIN" ] || die "$BIN not built (make)"
now_ms() { date +%s%3N; }

# ---- broker and Redis --------------------------------------------------
"$BIN" broker --partitions 4 >"$T/broker.out" 2>"$T/broker.err" &
broker_pid=$!
BOOT=
i=0
while [ -z "$BOOT" ]; do
    BOOT=$(head -n 1 "$T/broker.out" 2>/dev/null || true)
    kill -0 "$broker_pid" 2>/dev/null || die "streamrec broker failed: $(cat "$T/broker.err")"
    i=$((i + 1))
    [ "$i" -le 100 ] || die "streamrec broker printed no address in 10 s"
    [ -n "$BOOT" ] || sleep 0.1
done

RPORT=$((21000 + $$ % 20000))
while redis-cli -p "$RPORT" ping >/dev/null 2>&1; do RPORT=$((RPORT + 1)); done
(cd "$T" && exec redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$T/redis.log" 2>&1) &
redis_pid=$!
i=0
until redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; do
    kill -0 "$redis_pid" 2>/dev/null || die "redis-server failed: $(tail -3 "$T/redis.log")"
    i=$((i + 1))
    [ "$i" -le 200 ] || die "redis-server did not answer in 10 s"
    sleep 0.05
done
rcli() { redis-cli -p "$RPORT" "$@"; }
echo "== Kafka (streamrec broker) at $BOOT, Redis at 127.0.0.1:$RPORT"

# ---- the daemon's configuration -----------------------------------------
INI=$T/streamrec.ini
cat >"$INI" <<EOF
; written by scripts/demo-stream.sh
[log]
level = info
[redis]
host = 127.0.0.1
port = $RPORT
namespace = $NS
[publish]
interval_ms = 100
[kafka]
bootstrap.servers = $BOOT
group.id = streamrec-demo
; the daemon may join after the first events: read the topic from its start
auto.offset.reset = earliest
EOF
# A short metrics interval, so a demo of a few seconds has several records;
# checkpoints of the whole state in the demo's own directory.
printf '[metrics]\ninterval = 2s\n[state]\ndir = %s\ncheckpoint_interval_s = 5\n' "$T/state" >>"$INI"
"$BIN" config --check -c "$INI" >/dev/null || die "the generated configuration is invalid"

# ---- the input -----------------------------------------------------------
TAOBAO=$DATA/taobao-userbehavior-sample/UserBehavior_sample.csv.gz
if [ -f "$TAOBAO" ]; then
    INPUT=$TAOBAO
    PRODUCE_ARGS="--preset taobao"
    USER_COL=1 HEADER=0
    echo "== input: Taobao UserBehavior sample (96,168 events, 58,732 users, 2 hours of event time)"
else
    INPUT=$T/synth.csv
    PRODUCE_ARGS=
    USER_COL=3 HEADER=1
    echo "== input: ../shared/data not found; a synthetic stream from streamrec gen"
    "$BIN" gen --events 200000 --users 20000 --items 5000 --seed 7 --out "$INPUT" 2>/dev/null
fi

# ---- run, produce, wait until consumed -----------------------------------
"$BIN" run -c "$INI" >"$T/run.out" 2>"$T/run.err" &
daemon_pid=$!
# Give it a moment to join the consumer group (nothing is lost if it has not:
# auto.offset.reset = earliest).
i=0
while [ "$i" -lt 20 ] && ! grep -qiE 'assign|partition|consum|ready' "$T/run.err" 2>/dev/null; do
    kill -0 "$daemon_pid" 2>/dev/null || die "streamrec run exited: $(tail -5 "$T/run.err")"
    sleep 0.1
    i=$((i + 1))
done

echo "== streamrec produce ($([ "$RATE" = 0 ] && echo "as fast as possible" || echo "at most $RATE events/s")) while streamrec run consumes"
t0=$(now_ms)
rate_arg=
[ "$RATE" = 0 ] || rate_arg="--rate $RATE"
# shellcheck disable=SC2086
"$BIN" produce -b "$BOOT" -t events $PRODUCE_ARGS $rate_arg "$INPUT" 2>"$T/produce.err" ||
    die "streamrec produce failed: $(tail -3 "$T/produce.err")"
tail -n 1 "$T/produce.err" | sed 's/^/   /'
PRODUCED=$(sed -n 's/^streamrec produce: \([0-9]*\) events.*/\1/p' "$T/produce.err" | tail -1)
[ -n "$PRODUCED" ] || PRODUCED=0

metrics() { kcat -b "$BOOT" -C -t streamrec.metrics -o beginning -e -q 2>/dev/null || true; }
# Messages the daemon has consumed: the larger of the metrics records' sum
# of events.in (docs/metrics.md) and the model hash's messages_in (or
# events_applied) field, whichever this version of the daemon writes.
consumed() {
    c=$(rcli HGET "$NS:model" messages_in 2>/dev/null)
    [ -n "$c" ] || c=$(rcli HGET "$NS:model" events_applied 2>/dev/null)
    if [ $((i % 4)) = 0 ]; then
        m=$(metrics | jq -s 'map(.events.in // 0) | add // 0' 2>/dev/null)
        [ "${m:-0}" -gt "${c:-0}" ] && c=$m
    fi
    echo "${c:-0}"
}
rec_keys() { rcli --scan --pattern "$NS:rec:*" 2>/dev/null | wc -l; }
# 1. Caught up: every produced message consumed (at most 60 s).
caught_up=0
i=0
while [ "$i" -lt 240 ]; do
    kill -0 "$daemon_pid" 2>/dev/null || die "streamrec run exited: $(tail -5 "$T/run.err")"
    if [ "$(consumed)" -ge "$PRODUCED" ]; then caught_up=1; break; fi
    sleep 0.25
    i=$((i + 1))
done
t1=$(now_ms)
[ "$caught_up" = 1 ] || echo "demo: the daemon had not consumed all $PRODUCED events after 60 s" >&2
# 2. Published: the number of users with a list in Redis has stopped growing
#    (checked every second, at most 30 s).
last=-1 n=$(rec_keys)
i=0
while [ "$n" != "$last" ] && [ "$i" -lt 30 ]; do
    sleep 1
    last=$n n=$(rec_keys)
    i=$((i + 1))
done
t2=$(now_ms)

# ---- stop the daemon (its final flush, commit and summary) ---------------
kill -TERM "$daemon_pid"
i=0
while kill -0 "$daemon_pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "demo: streamrec run did not stop within 10 s of SIGTERM" >&2
    stop "$daemon_pid" "streamrec run" 1
    rc=1
else
    rc=0
    wait "$daemon_pid" || rc=$?
fi
daemon_pid=
echo "== streamrec run stopped (exit $rc):"
grep '^streamrec run:' "$T/run.err" | tail -n 1 | sed 's/^/   /' || true

# ---- what came out -------------------------------------------------------
secs=$(echo "$t0 $t1" | awk '{printf "%.1f", ($2 - $1) / 1000}')
echo
echo "== throughput"
echo "$PRODUCED $secs" | awk '{printf "   %d events produced, consumed and learned in %.1f s: %d events/s (wall clock, produce start to the last one consumed)\n", $1, $2, ($2 > 0 ? $1 / $2 : 0)}'
echo "$n $t0 $t2" | awk '{printf "   %d users'"'"' lists in Redis %.1f s after the first event was produced\n", $1, ($3 - $2) / 1000}'
metrics >"$T/metrics.jsonl"
if [ -s "$T/metrics.jsonl" ] && jq -s -e 'length > 0' "$T/metrics.jsonl" >/dev/null 2>&1; then
    jq -s -r '
      def r(x): if x == null then "n/a" else (x * 10 | round / 10 | tostring) end;
      (map(select(.events.applied > 0))) as $busy |
      "   from \(length) metrics records: peak \(r([.[].events.applied_per_s] | max)) events applied/s, \(r([.[].redis.sets_per_s] | max)) Redis SETs/s at peak, \([.[].dlq.total] | add) dead letters",
      "",
      "== freshness (event consumed -> its list handed to the publisher), per interval",
      ($busy[] | select(.freshness_ms.n > 0) | "   \(.interval.end_ms / 1000 | strftime("%H:%M:%S")): p50 \(r(.freshness_ms.p50)) ms, p99 \(r(.freshness_ms.p99)) ms (\(.freshness_ms.n) lists)"),
      "",
      "== online accuracy (prequential HR@20, test then train, over the whole run)",
      (["served", "popularity", "covis", "mf"][] as $s |
        ([.[].online[$s] | select(.n > 0)]) as $x |
        ($x | map(.n) | add // 0) as $n |
        "   \($s | . + "           " | .[0:11]) \(if $n > 0 then (($x | map(.["hr@20"] * .n) | add) / $n * 10000 | round / 10000 | tostring) else "n/a" end)   (\($n) events scored)")
    ' "$T/metrics.jsonl"
else
    echo "   (no records on streamrec.metrics)"
fi

echo
echo "== recommendations of the most active users (streamrec recs USER)"
zcat -f "$INPUT" | awk -F, -v col="$USER_COL" -v hdr="$HEADER" 'NR > hdr {n[$col]++}
    END {for (u in n) print n[u], u}' | sort -rn | head -n 50 | while read -r n u; do
    [ "$(rcli EXISTS "$NS:rec:$u")" = 1 ] && echo "$n $u"
done | head -n 3 >"$T/users"
[ -s "$T/users" ] || rcli --scan --pattern "$NS:rec:*" | head -n 3 | sed "s/^$NS:rec:/0 /" >"$T/users"
if [ -s "$T/users" ]; then
    while read -r n u; do
        echo "-- user $u ($n events in the input)"
        "$BIN" recs -c "$INI" "$u" | head -n 8 || true
    done <"$T/users"
else
    echo "   (no $NS:rec:* keys in Redis)"
fi
echo "   ($(rcli DBSIZE) keys in Redis)"

echo
echo "== one record from streamrec.metrics (kcat -C -t streamrec.metrics), the busiest interval"
if [ -s "$T/metrics.jsonl" ]; then
    jq -s 'max_by(.events.applied)' "$T/metrics.jsonl" 2>/dev/null || tail -n 1 "$T/metrics.jsonl"
else
    echo "   (none)"
fi

echo
echo "== the checkpoint written at shutdown (streamrec checkpoint inspect)"
"$BIN" checkpoint inspect "$T/state" 2>&1 | head -n 9 || true
[ "$rc" -eq 0 ] || exit "$rc"
