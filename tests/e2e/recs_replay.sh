#!/bin/sh
# tests/e2e/recs_replay.sh - the lists `streamrec run` publishes are the
# lists `streamrec replay` serves after the same events: one partition, a
# fixed ordered stream (a `streamrec gen` file produced as JSON), the same
# configuration file for both; the daemon's first publish round comes after
# it has applied the whole stream (a long publish.interval_ms; each list's
# version says how many events it saw), and `replay --dump-recs` prints the
# served top-K from the same serving code. Items must be equal in order,
# scores within float tolerance, for active (MF) and sparse (popularity
# fallback) users.
NAME=recs_replay
. "$(dirname "$0")/lib/stack.sh"
need redis-server redis-cli jq

# ---- Kafka and Redis ----------------------------------------------------
start_broker 1
pick_port
start_redis

# ---- one configuration for both -------------------------------------------
N=2000
NU=80
cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
[redis]
port = $port
[learner]
seed = 7
[serve]
; active users get MF lists, users with few positives the popularity fallback
fallback_min_events = 10
[eval]
; The same evaluation sampling as the daemon's (run.eval_sample, no warm-up):
; the learned model currently depends on where the evaluator flushes the
; learner's batch (mf_update_batch vs one update per event), so replay must
; flush at the same events to serve the same lists.
sample = 0.1
warmup = 0
[publish]
; the first round comes once the whole stream is applied (the daemon joins
; the group about 3 s after it starts, then consumes the backlog at once)
interval_ms = 8000
batch = 1000
[run]
eval_sample = 0.1
score_batch = 16
EOF
"$BIN" config --check -c "$T/run.ini" >/dev/null 2>&1 && ok || bad "config --check: $("$BIN" config --check -c "$T/run.ini" 2>&1)"

# ---- the stream, then the daemon -------------------------------------------
"$BIN" gen --events $N --users $NU --items 150 --seed 41 --out "$T/g.csv" 2>/dev/null || bad "gen"
"$BIN" produce -q -b "$BOOT" --format json "$T/g.csv" 2>"$T/p.err" || bad "produce: $(tail -3 "$T/p.err")"
"$BIN" run -c "$T/run.ini" >"$T/run.out" 2>"$T/run.err" &
DPID=$!
k=0
while [ "$(rcli HGET streamrec:model events_applied)" != "$N" ] && [ $k -lt 300 ]; do
    sleep 0.1
    k=$((k + 1))
done
applied=$(rcli HGET streamrec:model events_applied)
[ "$applied" = "$N" ] && ok || bad "events_applied '$applied', want $N"
version=$(rcli HGET streamrec:model version)
[ "${version#*-}" = "$N" ] && ok || bad "model version $version, want ...-$N"

# Users: the 4 most active and the 4 least active (fallback lists).
tail -n +2 "$T/g.csv" | cut -d, -f3 | sort | uniq -c | sort -k1,1nr -k2,2 >"$T/activity"
users="$(head -n 4 "$T/activity" | awk '{print $2}') $(tail -n 4 "$T/activity" | awk '{print $2}')"
list=$(echo $users | tr ' ' ',')
"$BIN" replay -q -c "$T/run.ini" --dump-recs "$list" "$T/g.csv" >"$T/replay.json" 2>"$T/replay.err" && ok ||
    bad "replay: $(tail -3 "$T/replay.err")"

n_fallback=0
n_mf=0
for u in $users; do
    # The daemon's list (published after the last event), waited for briefly.
    k=0
    while [ -z "$(rcli GET "streamrec:rec:$u")" ] && [ $k -lt 50 ]; do sleep 0.1; k=$((k + 1)); done
    rcli GET "streamrec:rec:$u" >"$T/d.json"
    if [ ! -s "$T/d.json" ] || [ "$(cat "$T/d.json")" = "" ]; then
        bad "$u: no list in Redis"
        continue
    fi
    v=$(jq -r .v "$T/d.json")
    [ "$v" = "$version" ] || { bad "$u: list of model $v, not of the whole stream ($version)"; continue; }
    jq -r --arg u "$u" '.[$u].items[]?' "$T/replay.json" >"$T/r.items"
    jq -r '.items[]' "$T/d.json" >"$T/d.items"
    if [ ! -s "$T/r.items" ]; then
        bad "$u: replay served nothing: $(jq -c --arg u "$u" '.[$u]' "$T/replay.json")"
        continue
    fi
    if cmp -s "$T/r.items" "$T/d.items"; then ok; else
        bad "$u: items differ (daemon | replay):"
        paste "$T/d.items" "$T/r.items" | head -20
        continue
    fi
    # Scores: same to float precision (relative 1e-5, absolute 1e-6).
    jq -r --arg u "$u" '.[$u].scores[]' "$T/replay.json" >"$T/r.scores"
    jq -r '.scores[]' "$T/d.json" >"$T/d.scores"
    if paste "$T/d.scores" "$T/r.scores" | awk '
        { d = $1 - $2; if (d < 0) d = -d; m = ($2 < 0 ? -$2 : $2);
          if (d > 1e-6 + 1e-5 * m) { print "  rank " NR ": " $1 " vs " $2; bad = 1 } }
        END { exit bad }'; then ok; else bad "$u: scores differ"; fi
    if [ "$(jq -r --arg u "$u" '.[$u].fallback' "$T/replay.json")" = true ]; then
        n_fallback=$((n_fallback + 1))
    else
        n_mf=$((n_mf + 1))
    fi
done
# Both kinds of list were compared.
[ $n_mf -ge 1 ] && [ $n_fallback -ge 1 ] && ok || bad "compared $n_mf MF and $n_fallback fallback lists"
# An unknown user is null in the dump.
"$BIN" replay -q -c "$T/run.ini" --dump-recs nobody "$T/g.csv" 2>/dev/null | jq -e '.nobody == null' >/dev/null &&
    ok || bad "unknown user not null"

kill -TERM "$DPID"
k=0
while kill -0 "$DPID" 2>/dev/null && [ $k -lt 100 ]; do sleep 0.1; k=$((k + 1)); done
kill -0 "$DPID" 2>/dev/null && { bad "daemon still running 10 s after SIGTERM"; kill -KILL "$DPID"; }
wait "$DPID"
rc=$?
DPID=""
[ $rc -eq 0 ] && ok || { bad "daemon exit $rc"; tail -5 "$T/run.err"; }

finish
