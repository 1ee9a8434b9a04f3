#!/bin/sh
# tests/e2e/caps.sh - memory caps in the daemon: `streamrec run` with
# learner.max_users far below the stream's distinct users and
# learner.max_items below its items, checkpoints on, killed with SIGKILL
# once mid-stream and restarted. The user table never exceeds the cap,
# evictions and item-cap rejections show in the metrics record and the
# checkpoint, every event is either applied or counted as rejected
# (exactly once across the kill), and SIGTERM exits 0.
NAME=caps
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
PROD=""
cleanup_extra() { [ -n "$PROD" ] && kill -KILL "$PROD" 2>/dev/null; return 0; }
need kcat redis-server redis-cli jq

MAX_USERS=300
MAX_ITEMS=500
start_broker 1
pick_port
start_redis
N=20000
gen_stream $N 41 --users 3000 --items 900
daemon_ini "[learner]
max_users = $MAX_USERS
max_items = $MAX_ITEMS"
# events whose item is new once MAX_ITEMS items are known: the ground truth
# of the item_cap rejections (first-seen order is the stream's order).
rejected=$(awk -F, -v cap=$MAX_ITEMS 'NR > 1 { if (!($4 in seen)) { if (n < cap) { seen[$4] = 1; n++ } else { r++; next } } }
    END { print r + 0 }' "$T/g.csv")

start_daemon
"$BIN" produce -q -b "$BOOT" --rate 5000 "$T/g.csv" >"$T/p.out" 2>"$T/p.err" &
PROD=$!
wait_applied 6000 30 && ok || bad "applied $(applied) before the kill"
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
start_daemon
wait "$PROD"
PROD=""
want=$((N - rejected))
wait_applied "$want" 60 && ok || bad "applied $(applied) of $want"
sleep 1.5 # one more metrics record
stop_daemon
grep -q "restored " "$T/run.err" && ok || bad "the restart did not restore a checkpoint"

"$BIN" checkpoint inspect --json "$T/state" >"$T/final.json" 2>"$T/inspect.err" ||
    bad "inspect failed: $(cat "$T/inspect.err")"
got=$(jq -r .events_applied "$T/final.json")
[ "$got" = "$want" ] && ok || bad "events_applied $got, want $want ($N events, $rejected over the item cap)"
users=$(jq -r .users "$T/final.json")
[ "$users" -le "$MAX_USERS" ] && ok || bad "$users users in the checkpoint, cap $MAX_USERS"
items=$(jq -r .items "$T/final.json")
[ "$items" -le "$MAX_ITEMS" ] && ok || bad "$items items in the checkpoint, cap $MAX_ITEMS"
# applied-event counts per user add up to the events applied (a recycled
# id starts from zero: sum over the users present <= applied)
sum=$("$BIN" checkpoint inspect --counts "$T/state" | awk -F'\t' '$1 == "item" { s += $3 } END { print s + 0 }')
[ "$sum" = "$want" ] && ok || bad "item counts add up to $sum, want $want"

# The metrics topic: evictions and rejections counted (per interval).
kcat -b "$BOOT" -C -t streamrec.metrics -e -q >"$T/metrics.jsonl" 2>/dev/null
ev=$(jq -s '[.[].caps.users_evicted] | add' "$T/metrics.jsonl")
rj=$(jq -s '[.[].caps.item_cap_rejected] | add' "$T/metrics.jsonl")
[ "${ev:-0}" -gt 0 ] 2>/dev/null && ok || bad "caps.users_evicted adds up to '$ev' in the metrics records"
[ "${rj:-0}" -gt 0 ] 2>/dev/null && ok || bad "caps.item_cap_rejected adds up to '$rj' in the metrics records"
# The restarted process's records count its own events only: what it
# restored is the baseline of its first interval, not part of it.
second=$(jq -r .instance "$T/metrics.jsonl" | awk '!seen[$0]++' | sed -n 2p)
restored=$(sed -n 's/.*restored .*: \([0-9]*\) events applied.*/\1/p' "$T/run.err" | tail -n 1)
after=$(jq -s --arg i "$second" '[.[] | select(.instance == $i) | .events.applied] | add' "$T/metrics.jsonl")
[ -n "$second" ] && [ "$after" -le $((want - restored)) ] 2>/dev/null && ok ||
    bad "the restarted daemon reported $after applied events; it restored $restored of $want"
finish
