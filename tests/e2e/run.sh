#!/bin/sh
# tests/e2e/run.sh - `streamrec run` against `streamrec broker` and a
# throwaway redis-server on a private port:
#  (a) good events in four framings (Confluent, single-object, JSON, and a
#      Confluent writer schema that differs from the canonical one) mixed
#      with ~5% malformed messages: events_applied equals the good events
#      exactly; every malformed one is in the DLQ with the right reason, its
#      source headers, its original headers and its original bytes;
#  (b) recommendations, trending and similar-item lists appear in Redis;
#  (c) SIGTERM exits 0 with offsets committed: a restarted daemon applies
#      only the events produced after the stop.
NAME=run
. "$(dirname "$0")/lib/stack.sh"
need kcat redis-server redis-cli dd

# ---- Kafka and Redis ----------------------------------------------------
start_broker 2
pick_port
start_redis

# ---- good events ----------------------------------------------------------
N=1000
NV=30 # of them, the last NV go out in the variant writer schema
"$BIN" gen --events $N --users 120 --items 200 --seed 11 --out "$T/g.csv" 2>/dev/null || bad "gen"
head -n 1 "$T/g.csv" >"$T/hdr"
body() { tail -n +2 "$T/g.csv" | sed -n "$1,$2p"; }
{ cat "$T/hdr"; body 1 330; } >"$T/p1.csv"
{ cat "$T/hdr"; body 331 660; } >"$T/p2.csv"
{ cat "$T/hdr"; body 661 $((N - NV)); } >"$T/p3.csv"
body $((N - NV + 1)) $N >"$T/variant.csv"
"$BIN" produce -q -b "$BOOT" --format confluent "$T/p1.csv" || bad "produce confluent"
"$BIN" produce -q -b "$BOOT" --format single-object "$T/p2.csv" || bad "produce single-object"
"$BIN" produce -q -b "$BOOT" --format json "$T/p3.csv" || bad "produce json"

# Writer schema 7: fields reordered, optional ones left out, one extra
# optional field. Messages are encoded here, byte by byte (Avro binary:
# zigzag varints, length-prefixed strings, union branch index first).
mkdir -p "$T/schemas" "$T/variant"
cat >"$T/schemas/7.avsc" <<'EOF'
{"type":"record","name":"Event","namespace":"streamrec","fields":[
 {"name":"ts","type":"long"},
 {"name":"type","type":{"type":"enum","name":"EventType","symbols":["VIEW","CLICK","ADD_TO_CART","FAVORITE","PURCHASE"]}},
 {"name":"item_id","type":"string"},
 {"name":"channel","type":["null","string"],"default":null},
 {"name":"user_id","type":"string"}]}
EOF
zz() { # zigzag varint of a non-negative number
    n=$(($1 * 2))
    while [ $n -ge 128 ]; do
        printf "\\$(printf %03o $(((n & 127) | 128)))"
        n=$((n >> 7))
    done
    printf "\\$(printf %03o $n)"
}
avro_str() { zz ${#1}; printf '%s' "$1"; }
type_index() {
    case $1 in VIEW) echo 0 ;; CLICK) echo 1 ;; ADD_TO_CART) echo 2 ;; FAVORITE) echo 3 ;; *) echo 4 ;; esac
}
i=0
while IFS=, read -r eid ts user item type rest; do
    i=$((i + 1))
    {
        printf '\000\000\000\000\007'
        zz "$ts"
        zz "$(type_index "$type")"
        avro_str "$item"
        printf '\002'
        avro_str "web"
        avro_str "$user"
    } >"$T/variant/$(printf %03d $i)"
done <"$T/variant.csv"
kcat -P -b "$BOOT" -t events -k variant "$T"/variant/* 2>"$T/kcat.err" || bad "kcat variant: $(cat "$T/kcat.err")"

# ---- malformed messages: the key names the expected reason ---------------
# make_bad REASON COUNT PRINTF-FORMAT: COUNT files, %d = the file's number.
make_bad() {
    mkdir -p "$T/bad/$1"
    j=1
    while [ $j -le "$2" ]; do
        # shellcheck disable=SC2059
        printf "$3" "$j" >"$T/bad/$1/$(printf %03d $j)"
        j=$((j + 1))
    done
}
make_bad truncated 4 '\000\000%d'                  # shorter than the Confluent header
make_bad truncated_so 4 '\303\001\000%d'           # shorter than the single-object header
make_bad bad_magic 8 '\007garbage-%d'
make_bad unknown_schema_id 6 '\000\000\000\003\347payload-%d'
make_bad bad_json 8 '{"user_id": "u1", "item_id": %d'
make_bad invalid_field 8 '{"user_id":"u1","item_id":"i%d","ts":1717200000000,"type":"BOGUS"}'
make_bad bad_time 6 '{"user_id":"u1","item_id":"i%d","ts":4200000000000,"type":"CLICK"}'
pad=$(head -c 5000 /dev/zero | tr '\0' x)
make_bad oversized 6 "{\"user_id\":\"u1\",\"item_id\":\"i%d\",\"pad\":\"$pad\"}"
NBAD=0
for dir in "$T"/bad/*; do
    key=$(basename "$dir")
    NBAD=$((NBAD + $(ls "$dir" | wc -l)))
    kcat -P -b "$BOOT" -t events -k "$key" -H origin=e2e "$dir"/* 2>"$T/kcat.err" ||
        bad "kcat $key: $(cat "$T/kcat.err")"
done
TOTAL=$((N + NBAD))

# ---- the daemon -------------------------------------------------------------
cat >"$T/run.ini" <<EOF
[kafka]
bootstrap.servers = $BOOT
; librdkafka 2.0.2 resets the member id before its LeaveGroup (seen with
; debug=cgrp), so the mock coordinator keeps a stopped member until its
; session expires: a short session lets the restarted daemon (c) join fast.
session.timeout.ms = 3000
heartbeat.interval.ms = 500
[redis]
port = $port
[ingest]
schema_dir = $T/schemas
max_message_bytes = 4096
[features]
; every good event must be applied, whatever the partition interleaving
allowed_lateness = 3650d
dedup_window = 0
bot_max_events = 0
[publish]
interval_ms = 50
[run]
sim_interval = 100ms
trending_interval = 100ms
[source]
commit_interval = 200ms
[metrics]
interval = 300ms
EOF
"$BIN" config --check -c "$T/run.ini" >/dev/null 2>&1 && ok || bad "config --check: $("$BIN" config --check -c "$T/run.ini" 2>&1)"

# wait_model FIELD VALUE SECONDS: until the model hash field has the value.
wait_model() {
    k=0
    while [ "$(rcli HGET streamrec:model "$1")" != "$2" ] && [ $k -lt $(($3 * 10)) ]; do
        sleep 0.1
        k=$((k + 1))
    done
    [ "$(rcli HGET streamrec:model "$1")" = "$2" ]
}
# stop_daemon: SIGTERM, exit 0 within 10 s.
stop_daemon() {
    kill -TERM "$DPID"
    k=0
    while kill -0 "$DPID" 2>/dev/null && [ $k -lt 100 ]; do sleep 0.1; k=$((k + 1)); done
    if kill -0 "$DPID" 2>/dev/null; then
        bad "$1: still running 10 s after SIGTERM"
        kill -KILL "$DPID"
    fi
    wait "$DPID"
    rc=$?
    DPID=""
    [ $rc -eq 0 ] && ok || { bad "$1: exit $rc"; tail -5 "$T/$1.err"; }
}

"$BIN" run -c "$T/run.ini" >"$T/run1.out" 2>"$T/run1.err" &
DPID=$!
wait_model messages_in $TOTAL 40 && ok || bad "(a) messages_in $(rcli HGET streamrec:model messages_in), want $TOTAL"
applied=$(rcli HGET streamrec:model events_applied)
[ "$applied" = "$N" ] && ok || bad "(a) events_applied $applied, want $N"

# (b) recommendations for the most active users, trending and sim lists.
sleep 0.5
for u in $(tail -n +2 "$T/g.csv" | cut -d, -f3 | sort | uniq -c | sort -rn | head -n 3 | awk '{print $2}'); do
    if "$BIN" recs -o redis.port="$port" "$u" >"$T/recs" 2>&1 && grep -q "^user $u: 20 items" "$T/recs" &&
        grep -Eq '^ +1 +i[0-9]+ ' "$T/recs"; then ok; else bad "(b) recs $u: $(head -3 "$T/recs")"; fi
done
n_trend=$(rcli GET streamrec:trending:1h | grep -o '"i[0-9]*"' | wc -l)
[ "$n_trend" -eq 20 ] && ok || bad "(b) trending:1h has $n_trend items"
[ "$(rcli --scan --pattern 'streamrec:sim:*' | wc -l)" -gt 0 ] && ok || bad "(b) no sim keys"
# The served lists leave out the user's items (serve.exclude_seen).
u=$(tail -n +2 "$T/g.csv" | cut -d, -f3 | sort | uniq -c | sort -rn | head -n 1 | awk '{print $2}')
rcli GET "streamrec:rec:$u" | grep -o '"i[0-9]*"' | tr -d '"' | sort >"$T/recitems"
tail -n +2 "$T/g.csv" | awk -F, -v u="$u" '$3 == u { print $4 }' | sort -u >"$T/seen"
[ -z "$(comm -12 "$T/recitems" "$T/seen")" ] && ok || bad "(b) $u is recommended items it has seen"

stop_daemon run1

# Metrics: one record per interval on streamrec.metrics (docs/metrics.md);
# their counts add up to no more than what the daemon did (the last, partial
# interval is not reported) and to most of it.
kcat -C -b "$BOOT" -t streamrec.metrics -o beginning -e -q >"$T/metrics.jsonl" 2>/dev/null
if jq -s -e 'length >= 2 and all(.[]; .schema_version == 1 and (.events.applied | type) == "number"
        and (.online.served | has("hr@20")) and (.model.version | type) == "string")' \
        "$T/metrics.jsonl" >/dev/null 2>&1; then ok; else bad "metrics records: $(head -c 300 "$T/metrics.jsonl")"; fi
m_applied=$(jq -s 'map(.events.applied) | add' "$T/metrics.jsonl" 2>/dev/null)
m_dlq=$(jq -s 'map(.dlq.total) | add' "$T/metrics.jsonl" 2>/dev/null)
[ "${m_applied:-0}" -gt 0 ] && [ "${m_applied:-0}" -le 1000 ] && [ "${m_dlq:-0}" -le 50 ] && ok ||
    bad "metrics add up to applied=$m_applied dlq=$m_dlq (want 1..1000, <= 50)"
grep -q "$TOTAL messages, $N events applied, $NBAD dead letters" "$T/run1.err" && ok ||
    bad "(a) summary: $(tail -1 "$T/run1.err")"

# (a) the dead letters: reason, source and original headers, original bytes.
kcat -C -b "$BOOT" -t streamrec.dlq -o beginning -e -q -f '%k %S %h\n' >"$T/dlq.idx" 2>/dev/null
kcat -C -b "$BOOT" -t streamrec.dlq -o beginning -e -q -f '%s' >"$T/dlq.bin" 2>/dev/null
[ "$(wc -l <"$T/dlq.idx")" -eq "$NBAD" ] && ok || bad "(a) DLQ holds $(wc -l <"$T/dlq.idx") messages, want $NBAD"
off=0
seen_keys=""
wrong=0
while read -r key size hdrs; do
    want=$key
    [ "$key" = truncated_so ] && want=truncated
    echo "$hdrs" | grep -q "streamrec.error=$want," || { wrong=$((wrong + 1)); echo "  $key: $hdrs"; }
    echo "$hdrs" | grep -q "origin=e2e" || { wrong=$((wrong + 1)); echo "  $key: original header lost"; }
    echo "$hdrs" | grep -Eq "streamrec.source.topic=events,streamrec.source.partition=[0-9]+,streamrec.source.offset=[0-9]+" ||
        { wrong=$((wrong + 1)); echo "  $key: source headers: $hdrs"; }
    # The i-th dead letter with this key is the i-th file of its directory.
    nth=$(($(echo "$seen_keys" | tr ' ' '\n' | grep -c "^$key\$") + 1))
    seen_keys="$seen_keys $key"
    dd if="$T/dlq.bin" of="$T/piece" iflag=skip_bytes,count_bytes skip=$off count="$size" bs=65536 2>/dev/null
    off=$((off + size))
    cmp -s "$T/piece" "$T/bad/$key/$(printf %03d $nth)" || { wrong=$((wrong + 1)); echo "  $key #$nth: bytes differ"; }
done <"$T/dlq.idx"
[ $wrong -eq 0 ] && ok || bad "(a) $wrong DLQ checks failed"

# (c) offsets committed: 10 more events; a restarted daemon applies only those.
{ cat "$T/hdr"; body 1 10 | sed 's/^e\([0-9]*\),/late\1,/; s/,u\([0-9]*\),/,late-u\1,/'; } >"$T/more.csv"
"$BIN" produce -q -b "$BOOT" --format json "$T/more.csv" || bad "produce more"
"$BIN" run -c "$T/run.ini" >"$T/run2.out" 2>"$T/run2.err" &
DPID=$!
wait_model messages_in 10 30 && ok || bad "(c) restart: messages_in $(rcli HGET streamrec:model messages_in), want 10"
sleep 1
[ "$(rcli HGET streamrec:model events_applied)" = 10 ] && ok ||
    bad "(c) restart applied $(rcli HGET streamrec:model events_applied), want 10"
stop_daemon run2
grep -q "10 messages, 10 events applied, 0 dead letters" "$T/run2.err" && ok ||
    bad "(c) summary: $(tail -1 "$T/run2.err")"

# Usage errors.
"$BIN" run extra 2>"$T/e" && bad "extra argument accepted" || ok
"$BIN" run -o source.topics= 2>"$T/e" && bad "empty topics accepted" || ok
grep -q "source.topics" "$T/e" && ok || bad "empty topics message: $(cat "$T/e")"

finish
