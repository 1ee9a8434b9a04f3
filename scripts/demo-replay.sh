#!/bin/sh
# scripts/demo-replay.sh BIN - the learning core on files, on embedded defaults:
# replay a real interaction stream (from ../shared/data when it is there,
# else a synthetic one from `streamrec gen`) through features and the online
# learner with prequential evaluation, and print the report.
set -eu
BIN=${1:-build/streamrec}
DATA=${SR_DATA:-$(dirname "$0")/../../shared/data}
OUT=${TMPDIR:-/tmp}/streamrec-demo.$$
mkdir -p "$OUT"
trap 'rm -rf "$OUT"' EXIT INT TERM

ml="$DATA/movielens-latest-small/ratings.csv.gz"
tb="$DATA/taobao-userbehavior-sample/UserBehavior_first814users.csv.gz"
if [ -f "$ml" ] && [ -f "$tb" ]; then
    echo "== MovieLens ml-latest-small: 100,836 ratings, time-sorted, test-then-train"
    "$BIN" replay --preset movielens --report "$OUT/movielens.json" "$ml"
    echo
    echo "== Taobao, complete histories of 814 users (sampled scoring: 1 in 4 events)"
    "$BIN" replay --preset taobao --sample 0.25 --report "$OUT/taobao.json" "$tb"
else
    echo "== ../shared/data not found: a synthetic stream from streamrec gen"
    "$BIN" gen --events 300000 --users 20000 --items 5000 --seed 7 --out "$OUT/synth.csv"
    "$BIN" replay --report "$OUT/synth.json" "$OUT/synth.csv"
fi
echo
echo "== the JSON reports (--report), abridged:"
for f in "$OUT"/*.json; do
    jq -c '{dataset, events, applied, scored, events_per_s: (.events_per_s|floor),
            exclude_seen_hr20: (.exclude_seen | map_values(.["hr@20"])),
            memory: {users: .memory.users, items: .memory.items, bytes_per_user: .memory.bytes_per_user}}' "$f"
done
