#!/bin/sh
# tests/e2e/produce.sh - `streamrec produce` against `streamrec broker`:
# every event of a generated file arrives once, keyed by its user_id; JSON
# messages carry exactly the events of the file; Confluent and
# single-object messages carry their headers; --rate holds the rate; a
# failed delivery makes the exit code 1 and is counted.
set -u
BIN=${SR_BIN:-build/streamrec}
T=$(mktemp -d)
BPID=""
cleanup() {
    [ -n "$BPID" ] && kill -TERM "$BPID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

for tool in kcat jq od; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "produce: $tool not installed (scripts/deps.sh); skipped"
        echo "produce: 0 passed, 0 failed"
        exit 0
    fi
done

N=3000
"$BIN" gen --events $N --users 400 --items 300 --seed 5 --out "$T/g.csv" 2>/dev/null || bad "gen"
"$BIN" gen --events $N --users 400 --items 300 --seed 5 --format jsonl --out "$T/g.jsonl" 2>/dev/null

"$BIN" broker --partitions 3 >"$T/b.out" 2>"$T/b.err" &
BPID=$!
i=0
BOOT=""
while [ -z "$BOOT" ] && [ $i -lt 100 ]; do sleep 0.1; BOOT=$(head -n 1 "$T/b.out"); i=$((i + 1)); done
[ -n "$BOOT" ] || { bad "broker did not start: $(cat "$T/b.err")"; echo "produce: $pass passed, $fail failed"; exit 1; }

# consume TOPIC FORMAT: every message of the topic, kcat's -f FORMAT.
consume() { kcat -b "$BOOT" -C -t "$1" -o beginning -e -q -f "$2"; }

# Confluent (the default): N messages, keys = the file's user ids.
if "$BIN" produce -q -b "$BOOT" "$T/g.csv"; then ok; else bad "produce confluent exit $?"; fi
consume events '%k\n' | sort >"$T/keys"
tail -n +2 "$T/g.csv" | cut -d, -f3 | sort >"$T/want_keys"
[ "$(wc -l <"$T/keys")" -eq $N ] && ok || bad "confluent: $(wc -l <"$T/keys") messages, want $N"
cmp -s "$T/keys" "$T/want_keys" && ok || bad "confluent: keys differ from the file's user ids"
# Header: 0x00 then schema id 1, big-endian.
consume events '%s' 2>/dev/null | head -c 5 | od -An -tx1 | tr -d ' \n' >"$T/hdr"
[ "$(cat "$T/hdr")" = "0000000001" ] && ok || bad "confluent header $(cat "$T/hdr")"

# JSON to another topic (auto-created by the mock broker): the values are the file's events.
if "$BIN" produce -q -b "$BOOT" -t json_events --format json "$T/g.csv"; then ok; else bad "produce json"; fi
consume json_events '%s\n' | jq -S -c . | sort >"$T/got.json"
jq -S -c . "$T/g.jsonl" | sort >"$T/want.json"
[ "$(wc -l <"$T/got.json")" -eq $N ] && ok || bad "json: $(wc -l <"$T/got.json") messages"
cmp -s "$T/got.json" "$T/want.json" && ok || bad "json: events differ from the file ($(diff "$T/got.json" "$T/want.json" | head -3))"
# Keyed by user_id: each message's key is its user_id.
consume json_events '%k\t%s\n' | jq -R -r 'split("\t") | (.[0] == (.[1] | fromjson | .user_id))' |
    sort -u >"$T/keyok"
[ "$(cat "$T/keyok")" = "true" ] && ok || bad "json: a key is not the user_id"

# Single-object from the JSON lines file, with a limit: C3 01 header.
if "$BIN" produce -q -b "$BOOT" -t so_events --format single-object --limit 100 "$T/g.jsonl"; then ok; else bad "produce single-object"; fi
[ "$(consume so_events '%k\n' | wc -l)" -eq 100 ] && ok || bad "single-object: --limit 100"
consume so_events '%s' 2>/dev/null | head -c 2 | od -An -tx1 | tr -d ' \n' >"$T/hdr"
[ "$(cat "$T/hdr")" = "c301" ] && ok || bad "single-object header $(cat "$T/hdr")"

# --rate: 400 events at 1000/s take about 0.4 s (not less than 0.3 s).
start=$(date +%s.%N)
"$BIN" produce -q -b "$BOOT" -t rate_events --rate 1000 --limit 400 "$T/g.csv" || bad "produce --rate"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { exit !(e - s >= 0.3) }' && ok || bad "--rate 1000: 400 events in $(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }') s"

# Delivery failure: nothing listens on port 1; exit 1 and say how many failed.
"$BIN" produce -b 127.0.0.1:1 -o kafka.message.timeout.ms=1000 -o kafka.log_level=0 --limit 20 \
    "$T/g.csv" >/dev/null 2>"$T/fail.err"
rc=$?
[ "$rc" -eq 1 ] && ok || bad "failed deliveries: exit $rc"
grep -q "20 of 20 deliveries failed" "$T/fail.err" && ok || bad "failure message: $(cat "$T/fail.err")"

# Usage errors.
"$BIN" produce --format avro "$T/g.csv" 2>"$T/e" && bad "--format avro accepted" || ok
grep -q "confluent, single-object or json" "$T/e" && ok || bad "--format error: $(cat "$T/e")"
"$BIN" produce -b "$BOOT" "$T/missing.csv" 2>"$T/e" && bad "missing file accepted" || ok
grep -q "missing.csv" "$T/e" && ok || bad "missing file error: $(cat "$T/e")"

kill -TERM "$BPID"
wait "$BPID" && ok || bad "broker exit code"
BPID=""
echo "produce: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
