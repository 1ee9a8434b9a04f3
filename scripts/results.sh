#!/bin/sh
# scripts/results.sh [BIN] - replay every dataset in ../shared/data (and a
# synthetic stream) with the default configuration and print the README's
# results table (markdown). Reports go to results/ (not committed).
set -eu
BIN=${1:-build/streamrec}
DATA=${SR_DATA:-$(dirname "$0")/../../shared/data}
OUT=${RESULTS_DIR:-results}
mkdir -p "$OUT"

run() { # name preset files...
    name=$1 preset=$2
    shift 2
    if [ "$preset" = none ]; then
        "$BIN" replay -q --report "$OUT/$name.json" "$@"
    else
        "$BIN" replay -q --preset "$preset" --report "$OUT/$name.json" "$@"
    fi
}

run movielens movielens "$DATA/movielens-latest-small/ratings.csv.gz"
run taobao-814users taobao "$DATA/taobao-userbehavior-sample/UserBehavior_first814users.csv.gz"
# The sparse long-tail setting (see README): item biases, uniform negatives.
run taobao-814users-bias taobao -o learner.item_bias=true -o learner.neg_pop_mix=0 \
    "$DATA/taobao-userbehavior-sample/UserBehavior_first814users.csv.gz"
run taobao-sample taobao "$DATA/taobao-userbehavior-sample/UserBehavior_sample.csv.gz"
run yoochoose yoochoose "$DATA/yoochoose-clicks-100k/yoochoose-clicks-100k_train_full.tsv.gz" \
    "$DATA/yoochoose-clicks-100k/yoochoose-clicks-100k_test.tsv.gz"
run diginetica diginetica "$DATA/diginetica-views-sample/sample_train-item-views.csv.gz"
"$BIN" gen --events 500000 --users 50000 --items 10000 --seed 7 --out "$OUT/synth.csv"
run synthetic none "$OUT/synth.csv"

printf '| dataset | events | scored (excl. seen) | popularity | popularity_all | covis | mf | served | served, include_seen |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for name in movielens taobao-814users taobao-814users-bias taobao-sample yoochoose diginetica synthetic; do
    jq -r --arg n "$name" '
      def f: (. * 10000 | round / 10000 | tostring);
      "| \($n) | \(.events) | \(.exclude_seen.mf.n) | \(.exclude_seen.popularity["hr@20"]|f) | \(.exclude_seen.popularity_all["hr@20"]|f) | \(.exclude_seen.covis["hr@20"]|f) | \(.exclude_seen.mf["hr@20"]|f) | \(.exclude_seen.served["hr@20"]|f) | \(.include_seen.served["hr@20"]|f) |"
    ' "$OUT/$name.json"
done
