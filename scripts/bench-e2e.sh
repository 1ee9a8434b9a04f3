#!/bin/sh
# scripts/bench-e2e.sh [OUT.json] - `make bench-e2e`: the daemon end to end on
# this machine, broker included, and bench/e2e.json (keys are an interface:
# add, never rename).
#
#   1. `streamrec gen` writes N events (default 300k); `streamrec produce`
#      loads them into a dev broker (`streamrec broker`, 4 partitions,
#      Confluent framing) before anything consumes.
#   2. raw_consume_events_per_s: bench/probe.c's plain librdkafka consumer
#      reads the whole topic, first to last message.
#   3. e2e_events_per_s: `streamrec run` (publisher on, a throwaway
#      redis-server on a private port) consumes, decodes, learns and
#      publishes the same N events; probe watch times first to last event
#      applied from the daemon's model hash; redis_sets_per_s from INFO
#      commandstats over the same stretch.
#   4. freshness_ms_p50/p99: a background `streamrec produce --rate` keeps
#      the daemon at half the measured e2e rate while probe fresh produces
#      one event for a brand-new user at a time and polls GET every 1 ms
#      until <ns>:rec:<user> appears (produce -> visible).
#
# Every event is applied (dedup, bot filter and lateness are off), so
# events_applied counts exactly. Environment: SR_BIN, SR_PROBE (binaries),
# SR_BENCH_EVENTS, SR_BENCH_PROBES, SR_BENCH_PUBLISH_MS (publish.interval_ms,
# default 100 = the shipped default), SR_BENCH_RUN_ARGS (extra `-o S.K=V`
# for the daemon, for experiments). Every process started here is stopped
# by the EXIT trap.
set -u
BIN=${SR_BIN:-build/streamrec}
PROBE=${SR_PROBE:-build/bench/probe}
OUT=${1:-bench/e2e.json}
N=${SR_BENCH_EVENTS:-300000}
PROBES=${SR_BENCH_PROBES:-200}
PUBLISH_MS=${SR_BENCH_PUBLISH_MS:-100}
PARTITIONS=4

T=$(mktemp -d)
BPID=""
RPID=""
DPID=""
PPID_LOAD=""
# stop PID: TERM, up to 5 s, then KILL.
stop() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    k=0
    while kill -0 "$1" 2>/dev/null && [ $k -lt 50 ]; do sleep 0.1; k=$((k + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
cleanup() {
    stop "$PPID_LOAD"
    stop "$DPID"
    stop "$BPID"
    stop "$RPID"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
say() { echo "bench-e2e: $*" >&2; }
die() {
    say "$*"
    [ -s "$T/kv" ] && sed "s/^/  /" "$T/kv" >&2
    for f in d.err load.err b.err; do [ -s "$T/$f" ] && tail -3 "$T/$f" >&2; done
    exit 1
}
# get KEY: a value collected in $T/kv.
get() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$T/kv"; }

for tool in redis-server redis-cli; do
    command -v $tool >/dev/null 2>&1 || die "$tool not installed (scripts/deps.sh)"
done
[ -x "$BIN" ] || die "no $BIN (make)"
[ -x "$PROBE" ] || die "no $PROBE (make build/bench/probe)"
: >"$T/kv"
start_s=$(date +%s)

# ---- Kafka, Redis, the stream --------------------------------------------
"$BIN" broker --partitions $PARTITIONS >"$T/b.out" 2>"$T/b.err" &
BPID=$!
port=$((22000 + $$ % 20000))
while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
(cd "$T" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$T/redis.log" 2>&1) &
RPID=$!
"$BIN" gen --events "$N" --seed 7 --out "$T/g.csv" 2>/dev/null || die "gen failed"
i=0
BOOT=""
while [ -z "$BOOT" ] && [ $i -lt 100 ]; do sleep 0.1; BOOT=$(head -n 1 "$T/b.out"); i=$((i + 1)); done
[ -n "$BOOT" ] || die "broker did not start"
i=0
until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do
    i=$((i + 1))
    [ $i -gt 300 ] && die "redis-server did not start"
    sleep 0.01
done
rcli() { redis-cli -p "$port" "$@"; }

say "producing $N events to $BOOT ($PARTITIONS partitions, Confluent framing)..."
"$BIN" produce -q -b "$BOOT" --format confluent "$T/g.csv" || die "produce failed"

# ---- raw consumer ------------------------------------------------------------
say "plain consumer over the same topic..."
# Best of three: a baseline is a limit, and one slow partition start or a
# busy neighbour on this 2-core box can halve a single 0.3 s run.
for run in 1 2 3; do
    "$PROBE" consume -b "$BOOT" -n "$N" >"$T/raw$run" 2>/dev/null || die "raw consumer failed"
done
best=$(for run in 1 2 3; do awk '$1 == "raw_consume_events_per_s" { print $2, FILENAME }' "$T/raw$run"; done |
    sort -n | tail -n 1 | cut -d' ' -f2)
cat "$best" >>"$T/kv"

# ---- the daemon, flat out ------------------------------------------------------
cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
session.timeout.ms = 3000
heartbeat.interval.ms = 500
[redis]
port = $port
[features]
; every event is applied, so events_applied counts exactly
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[publish]
interval_ms = $PUBLISH_MS
EOF
say "streamrec run over the $N events (publish.interval_ms = $PUBLISH_MS)..."
# shellcheck disable=SC2086 # SR_BENCH_RUN_ARGS: extra -o S.K=V, word-split
"$BIN" run -c "$T/run.ini" ${SR_BENCH_RUN_ARGS:-} >"$T/d.out" 2>"$T/d.err" &
DPID=$!
"$PROBE" watch -p "$port" -n "$N" --timeout 120 >>"$T/kv" || die "daemon did not apply $N events"
e2e=$(get e2e_events_per_s)

# ---- freshness at half load ---------------------------------------------------
half=$((e2e / 2))
say "freshness: $PROBES probes while producing at $half events/s..."
set -- "$T/g.csv"
for _ in 1 2 3 4 5 6 7 8 9; do set -- "$@" "$T/g.csv"; done
"$BIN" produce -q -b "$BOOT" --format confluent --rate "$half" "$@" >/dev/null 2>"$T/load.err" &
PPID_LOAD=$!
sleep 2 # to a steady state
model() { rcli HMGET streamrec:model events_applied updated_at | tr '\n' ' '; }
before=$(model)
"$PROBE" fresh -b "$BOOT" -p "$port" --probes "$PROBES" >>"$T/kv" || die "freshness probe failed"
after=$(model)
kill -0 "$PPID_LOAD" 2>/dev/null || die "the background producer stopped early"
echo "$before $after" | awk '{ if ($4 > $2) printf "freshness_load_events_per_s %.0f\n", ($3 - $1) * 1000 / ($4 - $2) }' >>"$T/kv"
stop "$PPID_LOAD"
PPID_LOAD=""

# ---- stop, summary ------------------------------------------------------------
kill -TERM "$DPID"
k=0
while kill -0 "$DPID" 2>/dev/null && [ $k -lt 150 ]; do sleep 0.1; k=$((k + 1)); done
kill -0 "$DPID" 2>/dev/null && die "streamrec run still running 15 s after SIGTERM"
wait "$DPID"
rc=$?
DPID=""
[ $rc -eq 0 ] || die "streamrec run exited $rc"
summary=$(tail -n 1 "$T/d.err")
wall=$(($(date +%s) - start_s))

raw=$(get raw_consume_events_per_s)
ratio=$(awk -v a="$e2e" -v b="$raw" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
{
    echo "e2e_vs_raw_consume $ratio"
    echo "freshness_load_target_events_per_s $half"
    echo "publish_interval_ms $PUBLISH_MS"
    echo "partitions $PARTITIONS"
    echo "bench_wall_s $wall"
} >>"$T/kv"

# bench/e2e.json: every collected figure (all numeric), in collection order.
mkdir -p "$(dirname "$OUT")"
awk 'BEGIN { printf "{\n" } { printf "%s  \"%s\": %s", (NR > 1 ? ",\n" : ""), $1, $2 }
     END { printf "\n}\n" }' "$T/kv" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"

# ---- the table -------------------------------------------------------------
printf '%-28s %14s   %s\n' figure value "baseline in the same run"
printf '%-28s %14s   %s events/s plain librdkafka consumer: %sx\n' e2e_events_per_s "$e2e" "$raw" "$ratio"
printf '%-28s %14s   %s events over %s s, first to last applied\n' "" "" "$N" "$(get e2e_seconds)"
printf '%-28s %14s   all lists in Redis %s s after the first event: %s events/s\n' "" "" \
    "$(get e2e_published_seconds)" "$(get e2e_published_events_per_s)"
printf '%-28s %14s   over the same stretch (%s SETs; %s until all published)\n' redis_sets_per_s \
    "$(get redis_sets_per_s)" "$(get redis_sets)" "$(get redis_sets_total)"
printf '%-28s %14s   %s probes at %s events/s (target %s), publish.interval_ms %s\n' \
    freshness_ms_p50 "$(get freshness_ms_p50)" "$(get freshness_probes)" \
    "$(get freshness_load_events_per_s)" "$half" "$PUBLISH_MS"
printf '%-28s %14s   p90 %s, max %s, timeouts %s; produce -> list handed to publisher p50 %s ms\n' \
    freshness_ms_p99 "$(get freshness_ms_p99)" "$(get freshness_ms_p90)" "$(get freshness_ms_max)" \
    "$(get freshness_timeouts)" "$(get freshness_to_offer_ms_p50)"
echo "$summary"
echo "wrote $OUT (${wall} s)"
