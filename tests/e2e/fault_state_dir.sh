#!/bin/sh
# tests/e2e/fault_state_dir.sh - state.dir becomes unusable mid-run, then
# comes back (README "Failure behaviour"). We run as root, so chmod blocks
# nothing; the directory is made unusable in two ways:
#   unusable  the directory is moved away and a regular file put in its
#             place (every write fails with ENOTDIR);
#   full      state.dir lives on a small tmpfs that is filled up (ENOSPC);
#             only where `mount -t tmpfs` works (root with CAP_SYS_ADMIN),
#             skipped with a message otherwise.
# In each phase, while a rate-limited producer keeps sending a known stream:
#   - an ERROR naming the directory is logged and checkpoint.errors > 0 and
#     checkpoint.paused = true appear in the metrics records;
#   - consumption pauses once state.checkpoint_events messages are past the
#     last durable checkpoint: events_applied stops growing while the
#     stream goes on;
#   - no corrupt or partial *.ckpt is left (every one verifies);
#   - once the directory is back it checkpoints again and consumption
#     resumes.
# At the end the final checkpoint holds every event exactly once
# (events_applied and every user's and item's count equal the ground truth)
# and SIGTERM exits 0. Also: a state.dir that is a regular file at start is
# refused with a clear error and exit status 1.
NAME=fault_state_dir
. "$(dirname "$0")/lib/stack.sh"
. "$(dirname "$0")/lib/faults.sh"
PROD=""
MOUNTED=""
cleanup_extra() {
    [ -n "$PROD" ] && kill -KILL "$PROD" 2>/dev/null
    if [ -n "$MOUNTED" ]; then
        [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
        umount "$T/vol" 2>/dev/null
    fi
    return 0
}
need kcat redis-server redis-cli jq timeout

start_broker 2
pick_port
start_redis
N=30000
CKE=2000 # state.checkpoint_events: the most consumed past a durable checkpoint
gen_stream $N 41 --users 300 --items 500
mkdir -p "$T/vol"
if mount -t tmpfs -o size=8m tmpfs "$T/vol" 2>/dev/null; then
    MOUNTED=1
else
    echo "  tmpfs cannot be mounted here: the full-disk phase is skipped" >&2
fi
SD="$T/vol/state"
daemon_ini "[state]
dir = $SD
checkpoint_events = $CKE"

# ---- unusable at start: refused, exit status 1 ------------------------------
echo "not a directory" >"$SD"
timeout 20 "$BIN" run -c "$T/run.ini" >/dev/null 2>"$T/start.err"
rc=$?
[ $rc -eq 1 ] && ok || bad "run with state.dir a regular file: exit $rc, want 1"
grep -q "state.dir $SD: Not a directory" "$T/start.err" && ok ||
    bad "no clear error at start: $(tail -2 "$T/start.err")"
rm -f "$SD"

# ck_applied DIR: events_applied of DIR's newest valid checkpoint (0: none)
ck_applied() {
    v=$("$BIN" checkpoint inspect --json "$1" 2>/dev/null | jq -r .events_applied)
    echo "${v:-0}"
}
# all_valid DIR WHAT: every *.ckpt in DIR verifies (no corrupt or partial one)
all_valid() {
    n=0
    nbad=0
    for f in "$1"/*.ckpt; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        "$BIN" checkpoint inspect "$f" >/dev/null 2>&1 || nbad=$((nbad + 1))
    done
    [ $n -ge 1 ] && [ $nbad -eq 0 ] && ok || bad "$WHAT: $nbad of $n checkpoints in $1 do not verify"
}
# wait_log TEXT SECONDS: until the daemon's log has a line with TEXT (count
# beyond $2: lines already there before are in $seen)
wait_log() {
    k=0
    while [ "$(grep -c "$1" "$T/run.err")" -le "$seen" ] && [ $k -lt $(($2 * 10)) ]; do
        sleep 0.1
        k=$((k + 1))
    done
    [ "$(grep -c "$1" "$T/run.err")" -gt "$seen" ]
}
producing() { kill -0 "$PROD" 2>/dev/null; }

# phase WHAT BREAK RESTORE CKDIR: breaks state.dir with the shell command
# BREAK, checks the pause, restores with RESTORE; CKDIR holds the durable
# checkpoints meanwhile.
phase() {
    WHAT=$1
    wait_applied $(($(applied) + 1500)) 20 || bad "$WHAT: the daemon is not consuming before the fault"
    seen=$(grep -c "consumption paused" "$T/run.err")
    eval "$2"
    wait_log "consumption paused" 15 && ok || bad "$WHAT: consumption never paused"
    sleep 0.3
    a1=$(applied)
    ck=$(ck_applied "$4")
    sleep 1.5
    a2=$(applied)
    producing && ok || bad "$WHAT: the stream ended before the pause was observed (make it longer)"
    [ "$a1" = "$a2" ] && ok || bad "$WHAT: events_applied grew while paused ($a1 -> $a2)"
    behind=$((a2 - ck))
    # the bound, plus what is consumed while the failing write itself runs
    [ $behind -ge $CKE ] && [ $behind -le $((CKE + 250)) ] && ok ||
        bad "$WHAT: paused $behind events past the last durable checkpoint, want $CKE"
    grep -q "ERROR app: checkpoint not written: checkpoint $SD/" "$T/run.err" && ok ||
        bad "$WHAT: no ERROR naming $SD: $(grep ERROR "$T/run.err" | tail -2)"
    grep -q "ERROR app: .* state.dir $SD failing: consuming paused" "$T/run.err" && ok ||
        bad "$WHAT: no pause ERROR naming $SD"
    WHAT="$WHAT (while failing)" all_valid "$4"
    alive "$WHAT"
    written=$(ls "$4" | grep -c '\.ckpt$')
    seen=$(grep -c "consumption resumed" "$T/run.err")
    eval "$3"
    wait_log "consumption resumed" 10 && ok || bad "$WHAT: consumption did not resume"
    wait_applied $((a2 + 500)) 10 && ok || bad "$WHAT: events_applied stuck at $(applied) after the restore"
    newest=$(ls "$SD" | grep '\.ckpt$' | sort | tail -1)
    [ "$(ck_applied "$SD")" -gt "$ck" ] && ok || bad "$WHAT: no new checkpoint after the restore ($newest)"
    WHAT="$WHAT (after)" all_valid "$SD"
    echo "  $WHAT: paused $behind events past the checkpoint at $ck; resumed" >&2
}

start_daemon
"$BIN" produce -q -b "$BOOT" --rate 2000 --format json "$T/g.csv" >"$T/p.out" 2>"$T/p.err" &
PROD=$!

phase unusable "mv '$SD' '$T/vol/away' && echo x >'$SD'" "rm '$SD' && mv '$T/vol/away' '$SD'" "$T/vol/away"
if [ -n "$MOUNTED" ]; then
    # fill the tmpfs: the next write fails with ENOSPC
    phase full "dd if=/dev/zero of='$T/vol/filler' bs=64k 2>/dev/null; true" "rm -f '$T/vol/filler'" "$SD"
    ls "$SD" | grep -q '\.tmp$' && bad "full: a .tmp file left in $SD: $(ls "$SD")"
fi

wait "$PROD"
rc=$?
PROD=""
[ $rc -eq 0 ] && ok || bad "produce exit $rc: $(tail -3 "$T/p.err")"
wait_applied $N 30 && ok || bad "events_applied $(applied), want $N"

# The metrics records: errors counted, the pause flagged, then lifted.
kcat -C -b "$BOOT" -t streamrec.metrics -o beginning -e -q 2>/dev/null >"$T/metrics.jsonl"
jq -s -e 'map(.checkpoint.errors) | max > 0' "$T/metrics.jsonl" >/dev/null && ok ||
    bad "no checkpoint.errors in the metrics records"
jq -s -e 'map(select(.checkpoint.paused == true)) | length > 0' "$T/metrics.jsonl" >/dev/null && ok ||
    bad "no metrics record with checkpoint.paused true"
jq -s -e 'last | .checkpoint.paused == false' "$T/metrics.jsonl" >/dev/null && ok ||
    bad "the last metrics record still says paused"
stop_daemon
grep -q "$N messages, $N events applied, 0 dead letters" "$T/run.err" && ok ||
    bad "summary: $(tail -1 "$T/run.err")"
# check_exact reads $T/state
ln -s "$SD" "$T/state"
check_exact $N
echo "  checkpoint size $(jq -r '.bytes // empty' "$T/final.json" 2>/dev/null) bytes" >&2
finish
