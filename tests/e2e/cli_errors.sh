#!/bin/sh
# tests/e2e/cli_errors.sh - bad input gets one clear error line and a
# non-zero exit: a missing file, an unknown preset, a bad column mapping, a
# bad config key or value.
set -u
BIN=${SR_BIN:-build/streamrec}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0

# expect_error WHAT EXPECTED-SUBSTRING -- command...
expect_error() {
    what=$1 want=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq 0 ]; then
        echo "FAIL $what: exit 0"; fail=$((fail + 1)); return
    fi
    if ! grep -q -- "$want" "$T/err"; then
        echo "FAIL $what: stderr lacks '$want':"; cat "$T/err"; fail=$((fail + 1)); return
    fi
    if [ "$lines" -ne 1 ]; then
        echo "FAIL $what: $lines error lines, want 1:"; cat "$T/err"; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}

printf 'user_id,item_id,ts\nu1,i1,1000\n' >"$T/ok.csv"
expect_error "missing file" "$T/nope.csv" -- "$BIN" replay -q "$T/nope.csv"
expect_error "unknown preset" "ingest.preset" -- "$BIN" replay -q --preset retailrocket "$T/ok.csv"
expect_error "bad column mapping" "columns" -- "$BIN" replay -q -o ingest.header=false -o "ingest.columns=user=0,item=x" "$T/ok.csv"
expect_error "unknown key" "learner.kk" -- "$BIN" replay -q -o learner.kk=3 "$T/ok.csv"
expect_error "bad value" "bpr|logistic" -- "$BIN" replay -q -o learner.loss=hinge "$T/ok.csv"
expect_error "bad config file" "learner.negs" -- sh -c "printf '[learner]\nnegs = 2\n' > '$T/bad.ini' && '$BIN' replay -q -c '$T/bad.ini' '$T/ok.csv'"
expect_error "unreadable config" "$T/none.ini" -- "$BIN" config --check -c "$T/none.ini"
expect_error "unknown command" "unknown command" -- sh -c "'$BIN' frobnicate 2>&1 >/dev/null | head -1 >&2; exit 2"

# And a good file works.
if "$BIN" replay -q --report "$T/r.json" "$T/ok.csv" && grep -q '"applied": 1' "$T/r.json"; then
    pass=$((pass + 1))
else
    echo "FAIL good file"; fail=$((fail + 1))
fi
# The shipped example configuration is valid.
if "$BIN" config --check -c config/streamrec.ini >/dev/null; then
    pass=$((pass + 1))
else
    echo "FAIL config/streamrec.ini does not pass config --check"; fail=$((fail + 1))
fi
echo "cli_errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
