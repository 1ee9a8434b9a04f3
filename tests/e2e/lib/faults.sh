# tests/e2e/lib/faults.sh - shared by the fault tests (tests/e2e/fault_*.sh):
# a known stream, the daemon with checkpoints on, and the end-of-test proof
# that every event was applied exactly once. Not a test itself. Source it
# after lib/stack.sh (which sets T, BIN, ok/bad and the broker and Redis):
#
#   gen_stream N SEED [gen options]  $T/g.csv, and $T/truth.tsv: the expected
#                                    per-user and per-item counts
#   daemon_ini [EXTRA]               $T/run.ini: broker $BOOT, Redis $port,
#                                    state.dir $T/state, every event applied;
#                                    EXTRA (text) is appended
#   start_daemon                     `streamrec run` in the background: DPID
#   applied                          events_applied of the model hash (0 if none)
#   wait_applied N SECONDS           until the model hash shows >= N
#   alive WHAT                       ok if the daemon still runs, bad otherwise
#   stop_daemon                      SIGTERM; ok when it exits 0 within 20 s
#   check_exact N                    the final checkpoint: events_applied = N,
#                                    every user's and item's count = truth,
#                                    every checkpoint file in $T/state valid
#
# Ground truth: de-duplication, the bot filter and lateness are off, so every
# event is applied and each user's and item's count is its number of lines;
# an event applied twice or lost shows as a count that differs.

# gen_stream N SEED [OPTIONS...]
gen_stream() {
    _n=$1
    _seed=$2
    shift 2
    "$BIN" gen --events "$_n" --seed "$_seed" "$@" --out "$T/g.csv" 2>"$T/gen.err" || {
        bad "gen failed: $(cat "$T/gen.err")"
        finish
    }
    awk -F, 'NR > 1 { print "user\t" $3; print "item\t" $4 }' "$T/g.csv" | sort | uniq -c |
        awk '{ print $2 "\t" $3 "\t" $1 }' | sort >"$T/truth.tsv"
}

# daemon_ini [EXTRA]: the daemon's configuration (later keys win in INI).
daemon_ini() {
    cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
; a lost member is replaced fast; reconnect quickly after an outage
session.timeout.ms = 3000
heartbeat.interval.ms = 500
reconnect.backoff.ms = 100
reconnect.backoff.max.ms = 500
[redis]
port = $port
backoff_min = 50ms
backoff_max = 500ms
connect_timeout = 500ms
timeout = 1s
[features]
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[publish]
interval_ms = 50
[state]
dir = $T/state
checkpoint_interval_s = 1
checkpoint_events = 2000
keep = 3
[metrics]
interval = 1s
${1:-}
EOF
}

start_daemon() {
    "$BIN" run -c "$T/run.ini" >"$T/run.out" 2>>"$T/run.err" &
    DPID=$!
}

applied() {
    _v=$(rcli HGET streamrec:model events_applied 2>/dev/null | tr -d '\r')
    echo "${_v:-0}"
}

wait_applied() {
    _k=0
    while [ "$(applied)" -lt "$1" ] && [ $_k -lt $(($2 * 10)) ]; do
        sleep 0.1
        _k=$((_k + 1))
    done
    [ "$(applied)" -ge "$1" ]
}

alive() {
    if kill -0 "$DPID" 2>/dev/null; then ok; else bad "daemon died $1: $(tail -3 "$T/run.err")"; fi
}

stop_daemon() {
    kill -TERM "$DPID"
    _k=0
    while kill -0 "$DPID" 2>/dev/null && [ $_k -lt 200 ]; do
        sleep 0.1
        _k=$((_k + 1))
    done
    kill -0 "$DPID" 2>/dev/null && {
        bad "daemon still running 20 s after SIGTERM"
        kill -KILL "$DPID"
    }
    wait "$DPID"
    _rc=$?
    DPID=""
    [ $_rc -eq 0 ] && ok || bad "daemon exit $_rc: $(tail -3 "$T/run.err")"
}

# check_exact N: the final checkpoint against the ground truth.
check_exact() {
    if "$BIN" checkpoint inspect --json "$T/state" >"$T/final.json" 2>"$T/inspect.err"; then
        ok
    else
        bad "no valid checkpoint at the end: $(cat "$T/inspect.err")"
        return
    fi
    _got=$(jq -r .events_applied "$T/final.json")
    [ "$_got" = "$1" ] && ok || bad "checkpoint events_applied $_got, want $1"
    "$BIN" checkpoint inspect --counts "$T/state" | awk -F'\t' 'NF == 3' | sort >"$T/counts.tsv"
    if cmp -s "$T/counts.tsv" "$T/truth.tsv"; then
        ok
    else
        bad "per-user/per-item counts differ from the input: $(diff "$T/truth.tsv" "$T/counts.tsv" |
            head -5 | tr '\n' ' ')"
    fi
    # No corrupt or partial checkpoint left behind: every *.ckpt verifies.
    _n=0
    for _f in "$T"/state/*.ckpt; do
        [ -e "$_f" ] || continue
        _n=$((_n + 1))
        "$BIN" checkpoint inspect "$_f" >/dev/null 2>"$T/inspect.err" ||
            bad "checkpoint $_f does not verify: $(cat "$T/inspect.err")"
    done
    [ $_n -ge 1 ] && ok || bad "no checkpoint file in $T/state"
    # Nothing was skipped or lost on the way (exact mode's gap report).
    grep -q "no longer on the broker" "$T/run.err" && bad "messages lost: $(grep "no longer" "$T/run.err" | head -2)"
    return 0
}
