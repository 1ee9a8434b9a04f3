#!/bin/sh
# tests/e2e/replay_resume.sh - `streamrec replay --checkpoint-every N` and
# `--resume`: a run resumed from any of its checkpoints ends in the same
# state and the same report as one that never stopped; a damaged newest
# checkpoint is skipped for the one before it; a checkpoint of another
# shape is refused.
NAME=replay_resume
. "$(dirname "$0")/lib/stack.sh"
need jq

N=60000
"$BIN" gen --events $N --seed 5 --out "$T/g.csv" 2>/dev/null || { bad "gen failed"; finish; }
OPTS="-o features.allowed_lateness=3650d -o state.keep=10 -q"

# replay DIR REPORT [extra...]
replay() {
    dir=$1
    rep=$2
    shift 2
    # shellcheck disable=SC2086 # OPTS: several words
    "$BIN" replay "$T/g.csv" $OPTS -o "state.dir=$T/$dir" --report "$T/$rep" "$@" 2>"$T/$rep.err"
}
# sections DIR: "name xxh64" of the newest checkpoint's state sections.
sections() {
    "$BIN" checkpoint inspect --json "$T/$1" |
        jq -r '.sections[] | select(.name != "meta" and .name != "config") | "\(.name) \(.xxh64)"'
}
# results REPORT: the evaluation figures and the applied count.
results() { jq -S '{applied, exclude_seen, include_seen, stream}' "$T/$1"; }

replay full full.json --checkpoint-every 20000 && ok || bad "checkpointed replay failed: $(cat "$T/full.json.err")"
n=$(ls "$T/full" | grep -c '\.ckpt$')
[ "$n" -eq 3 ] && ok || bad "$n checkpoints, want 3 (records 20000, 40000 and the end)"
"$BIN" replay "$T/g.csv" -o features.allowed_lateness=3650d -q --report "$T/plain.json" 2>/dev/null
[ "$(results full.json)" = "$(results plain.json)" ] && ok ||
    bad "checkpointing changed the results"
sections full >"$T/full.sec"
grep -q "^mf_users " "$T/full.sec" && grep -q "^feat_covis " "$T/full.sec" && ok ||
    bad "state sections missing: $(tr '\n' ' ' <"$T/full.sec")"

# Resume from the checkpoint at record 20000 (the two newer ones removed).
mkdir "$T/mid"
oldest=$(ls "$T/full" | sort | head -n 1)
cp "$T/full/$oldest" "$T/mid/"
replay mid mid.json --resume --checkpoint-every 20000 && ok || bad "resume failed: $(cat "$T/mid.json.err")"
[ "$(jq .resumed_at_record "$T/mid.json")" = 20000 ] && ok ||
    bad "resumed at $(jq .resumed_at_record "$T/mid.json"), want 20000"
[ "$(results mid.json)" = "$(results full.json)" ] && ok || bad "resumed report differs from the full run"
sections mid >"$T/mid.sec"
if cmp -s "$T/mid.sec" "$T/full.sec"; then ok; else bad "resumed state differs: $(diff "$T/full.sec" "$T/mid.sec" | tr '\n' ' ')"; fi

# A truncated newest checkpoint is skipped, with its name and the reason.
mkdir "$T/cut"
for f in $(ls "$T/full" | sort | head -n 2); do cp "$T/full/$f" "$T/cut/"; done
newest=$(ls "$T/cut" | sort | tail -n 1)
size=$(wc -c <"$T/cut/$newest")
head -c $((size - 100)) "$T/full/$newest" >"$T/cut/$newest"
replay cut cut.json --resume && ok || bad "resume past a damaged checkpoint failed: $(cat "$T/cut.json.err")"
grep -q "checkpoint skipped: .*$newest: truncated" "$T/cut.json.err" && ok ||
    bad "no warning naming $newest: $(cat "$T/cut.json.err")"
[ "$(jq .resumed_at_record "$T/cut.json")" = 20000 ] && ok ||
    bad "resumed at $(jq .resumed_at_record "$T/cut.json") past the damaged one, want 20000"
[ "$(results cut.json)" = "$(results full.json)" ] && ok || bad "report after skipping differs"

# Nothing to resume from: a plain run from the start.
replay empty empty.json --resume && ok || bad "resume with no checkpoint failed"
[ "$(jq .resumed_at_record "$T/empty.json")" = 0 ] && [ "$(results empty.json)" = "$(results full.json)" ] &&
    ok || bad "resume from nothing is not a plain run"

# Another model shape: refused, naming what differs; exit 1.
replay full k16.json --resume -o learner.k=16
rc=$?
[ $rc -eq 1 ] && grep -q "k" "$T/k16.json.err" && ok || bad "k=16 over a k=32 checkpoint: exit $rc, $(cat "$T/k16.json.err")"

# --checkpoint-every without a directory is a usage error with the key named.
"$BIN" replay "$T/g.csv" -q --checkpoint-every 100 2>"$T/nodir.err"
rc=$?
[ $rc -ne 0 ] && grep -q "state.dir" "$T/nodir.err" && ok || bad "no state.dir: exit $rc, $(cat "$T/nodir.err")"
finish
