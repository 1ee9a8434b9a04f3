#!/bin/sh
# tests/e2e/recs.sh - `streamrec recs USER` against a throwaway redis-server
# on a private port: the table, --json, a missing key, Redis unreachable,
# the namespace from a config file, and AUTH (a wrong password is reported
# without being shown).
set -u
BIN=${SR_BIN:-build/streamrec}
T=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "recs: redis-server or redis-cli not installed; skipped"
    echo "recs: 0 passed, 0 failed"
    exit 0
fi

# A port nothing listens on, from this shell's pid.
port=$((20000 + $$ % 20000))
while redis-cli -p "$port" ping >/dev/null 2>&1; do port=$((port + 1)); done
free_port=$((port + 1))
while redis-cli -p "$free_port" ping >/dev/null 2>&1; do free_port=$((free_port + 1)); done

(cd "$T" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$T/redis.log" 2>&1) &
pid=$!
i=0
until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then echo "recs: redis-server did not start"; exit 1; fi
    sleep 0.01
done
cli() { redis-cli -p "$port" "$@" >/dev/null; }

now_ms=$(($(date +%s) * 1000))
value='{"v":"m-7","t":'$now_ms',"items":["i9","i \"3\""],"scores":[0.93,-0.5]}'
cli SET streamrec:rec:u1 "$value"

# The table: header with the model version, one row per item in rank order.
if "$BIN" recs u1 -o redis.port="$port" >"$T/out" 2>"$T/err"; then
    if grep -q 'model m-7' "$T/out" && grep -Eq '^ +1 +i9 +0\.9300$' "$T/out" &&
        grep -Eq '^ +2 +i "3" +-0\.5000$' "$T/out" && [ ! -s "$T/err" ]; then ok; else
        bad "table:"; cat "$T/out" "$T/err"; fi
else bad "table: exit $?"; cat "$T/err"; fi

# --json: the stored value, byte for byte.
"$BIN" recs --json -o redis.port="$port" u1 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ "$(cat "$T/out")" = "$value" ]; then ok; else bad "--json:"; cat "$T/out"; fi

# expect_error WHAT EXPECTED-SUBSTRING -- command...: exit 1, one stderr line.
expect_error() {
    what=$1 want=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne 1 ]; then bad "$what: exit $rc, want 1"; cat "$T/err"; return; fi
    if ! grep -q -- "$want" "$T/err"; then bad "$what: stderr lacks '$want':"; cat "$T/err"; return; fi
    if [ "$(wc -l <"$T/err")" -ne 1 ]; then bad "$what: not one error line:"; cat "$T/err"; return; fi
    if [ -s "$T/out" ]; then bad "$what: printed on stdout"; return; fi
    ok
}

expect_error "missing key" "no recommendations for user 'nobody'" -- \
    "$BIN" recs nobody -o redis.port="$port"
expect_error "unreachable" "127.0.0.1:$free_port unreachable" -- \
    "$BIN" recs u1 -o redis.port="$free_port"

# Namespace and port from a config file.
printf '[redis]\nport = %s\nnamespace = shop\n' "$port" >"$T/c.ini"
cli SET shop:rec:u2 '{"v":"m-8","t":1,"items":["x"],"scores":[1]}'
if "$BIN" recs -c "$T/c.ini" u2 >"$T/out" 2>&1 && grep -q 'model m-8' "$T/out" &&
    grep -Eq '^ +1 +x +1\.0000$' "$T/out"; then ok; else bad "config file:"; cat "$T/out"; fi
expect_error "namespace" "shop:rec:u1" -- "$BIN" recs -c "$T/c.ini" u1

# AUTH: the right password works; a wrong one is one line without it.
cli CONFIG SET requirepass 'Pw-e2e-4711'
if "$BIN" recs u1 -o redis.port="$port" -o redis.password=Pw-e2e-4711 >"$T/out" 2>&1 &&
    grep -q 'model m-7' "$T/out"; then ok; else bad "auth:"; cat "$T/out"; fi
expect_error "wrong password" "authentication" -- \
    "$BIN" recs u1 -o redis.port="$port" -o redis.password=Wrong-e2e-99
if grep -q 'Wrong-e2e-99' "$T/err"; then bad "wrong password is shown"; else ok; fi
expect_error "no password" "NOAUTH" -- "$BIN" recs u1 -o redis.port="$port"

# The password never shows in a dump.
"$BIN" config --dump -o redis.password=Pw-e2e-4711 >"$T/out" 2>&1
if grep -q 'Pw-e2e-4711' "$T/out" || ! grep -q '^password = \*\*\*$' "$T/out"; then
    bad "config dump shows the password"; else ok; fi

echo "recs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
