#!/usr/bin/env bash
# redis-server under the shim: redis-cli works, every default redis-benchmark test runs without
# errors (-P 1 and -P 16), and replies are byte-exact (values up to 256 KiB, deep pipelines).
source "$(dirname "$0")/lib_redis.sh"
testbed_up
start_redis

[ "$(rcli set tpa:hello world)" = OK ] || fail "redis-cli SET"
[ "$(rcli get tpa:hello)" = world ] || fail "redis-cli GET"
rcli info server | grep -q '^redis_version:' || fail "redis-cli INFO"
pass "redis-cli SET/GET/INFO"

DEFAULT_TESTS="PING_INLINE PING_MBULK SET GET INCR LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN LRANGE_100 LRANGE_300 LRANGE_500 LRANGE_600 MSET"
for pipeline in 1 16; do
	out=$E2E_WORK/bench-P$pipeline.txt
	cli_ns timeout 300 redis-benchmark -h "$TPA_TB_SRV_IP" -p "$REDIS_PORT" -c 50 -n 5000 \
		-P $pipeline -q >"$out" 2>&1 || fail "redis-benchmark -P $pipeline exited non-zero: $(tail -3 "$out")"
	tr '\r' '\n' <"$out" | grep -Ei 'error|reset|refused' && fail "redis-benchmark -P $pipeline reported errors"
	for t in $DEFAULT_TESTS; do
		tr '\r' '\n' <"$out" | grep -Eq "^\"?$t( \(first 100 elements\)| \(first 300 elements\)| \(first 500 elements\)| \(first 600 elements\)| \(10 keys\))?\"?[:,] ?[0-9.]+ requests per second|^$t.*requests per second" ||
			tr '\r' '\n' <"$out" | grep -q "^${t%%_*}.*requests per second" ||
			fail "redis-benchmark -P $pipeline: no result for $t"
	done
	pass "redis-benchmark default tests, -P $pipeline: $(tr '\r' '\n' <"$out" | grep -c 'requests per second') results"
done

resp_check data 300 || fail "byte-exact values"
resp_check pipeline 20000 || fail "pipelined replies"
kill -0 "$REDIS_PID" || fail "redis-server died"
pass "redis-server alive after all tests"
finish_redis
