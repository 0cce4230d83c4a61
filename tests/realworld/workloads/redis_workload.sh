#!/usr/bin/env bash
# The redis workload of tests/realworld/redis.sh. Starts redis-server on a free loopback
# port (no persistence), drives it with redis-benchmark (bounded request counts), a
# redis-cli --pipe bulk load and a list of redis-cli commands, then SHUTDOWN NOSAVE. Prints
# only deterministic replies (never INFO memory, throughput, ports or pids); the server
# must exit with status 0. Everything here talks to 127.0.0.1 only.
set -euo pipefail

HOST=127.0.0.1
DATA="$RW_RUN_DIR/data"
mkdir -p "$DATA"
server_pid=""
port=""

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
}
trap stop_server EXIT

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

start_server() {
  local i
  for _ in $(seq 1 20); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_in_use "$port" && continue
    : >"$RW_LOG_DIR/redis.log"
    redis-server --port "$port" --bind "$HOST" --protected-mode yes --save '' --appendonly no \
      --dir "$DATA" --logfile "$RW_LOG_DIR/redis.log" --daemonize no --databases 4 \
      >"$RW_LOG_DIR/redis.stdout" 2>"$RW_LOG_DIR/redis.stderr" &
    server_pid=$!
    echo "$server_pid" >"$RW_RUN_DIR/redis-server.pid"
    for i in $(seq 1 200); do
      if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
      if [[ "$(redis-cli -h "$HOST" -p "$port" ping 2>/dev/null)" == PONG ]]; then return 0; fi
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "redis-server did not answer PING within 20 s" >&2
      exit 1
    fi
    local status=0
    wait "$server_pid" || status=$?
    server_pid=""
    if grep -q "Address already in use" "$RW_LOG_DIR/redis.log"; then continue; fi
    echo "redis-server exited with status $status at startup; its log:" >&2
    tail -n 20 "$RW_LOG_DIR/redis.log" >&2
    exit 1
  done
  echo "no free port found for redis-server after 20 attempts" >&2
  exit 1
}

cli() { redis-cli -h "$HOST" -p "$port" "$@"; }

start_server
echo "== server up: $(cli ping)"

echo "== redis-benchmark"
server_alive() {
  if ! kill -0 "$server_pid" 2>/dev/null; then
    local status=0
    wait "$server_pid" || status=$?
    server_pid=""
    echo "redis-server died (exit status $status); the end of its log:" >&2
    tail -n 30 "$RW_LOG_DIR/redis.log" >&2
    exit 1
  fi
}

benchmark() { # benchmark NAME ARGS...: a bounded run; prints which tests completed
  local name=$1 status=0 client i
  shift
  timeout -k 5 120 redis-benchmark -h "$HOST" -p "$port" "$@" >"$RW_LOG_DIR/$name.txt" 2>&1 &
  client=$!
  # redis-benchmark keeps retrying when the server is gone: stop it as soon as that happens.
  for i in $(seq 1 1300); do
    kill -0 "$client" 2>/dev/null || break
    kill -0 "$server_pid" 2>/dev/null || { kill "$client" 2>/dev/null || true; break; }
    sleep 0.1
  done
  wait "$client" || status=$?
  server_alive
  # -q prints one line per test ("SET: N requests per second, ..."), after \r progress lines.
  echo "$name: status $status, tests completed:" \
    "$(tr '\r' '\n' <"$RW_LOG_DIR/$name.txt" | grep 'requests per second' | cut -d: -f1 | sort | tr '\n' ' ' | sed 's/ $//')"
}
benchmark benchmark1 -n 20000 -q -t set,get,lpush,lpop,incr
benchmark benchmark2 -n 20000 -q -t set,get,lpush,lpop,incr -d 4000 -P 8 -c 20
echo "counter: $(cli get counter:__rand_int__)"
echo "value size: $(cli strlen key:__rand_int__)"
echo "list length: $(cli llen mylist)"
echo "dbsize: $(cli dbsize)"

echo "== redis-cli --pipe bulk load"
# Redis protocol for 60000 commands: strings, a long list, a big hash, set and sorted set.
awk 'function cmd(a, b, c, d,   n) {
       n = (d != "") ? 4 : 3
       printf "*%d\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", n, length(a), a, length(b), b, length(c), c
       if (d != "") printf "$%d\r\n%s\r\n", length(d), d
     }
     BEGIN {
       for (i = 0; i < 30000; i++) {
         v = sprintf("value-%d-", i); while (length(v) < 20 + i % 300) v = v "x"
         cmd("SET", "key:" i, v)
       }
       for (i = 0; i < 10000; i++) cmd("RPUSH", "biglist", "item-" i, "")
       for (i = 0; i < 10000; i++) cmd("HSET", "bighash", "field:" i, "hash-value-" i * 7)
       for (i = 0; i < 5000; i++) cmd("SADD", "bigset", "member-" (i * 13) % 7919, "")
       for (i = 0; i < 5000; i++) cmd("ZADD", "bigz", (i * 37) % 10007, "zm-" i)
     }' >"$RW_RUN_DIR/bulk.resp"
cli --pipe <"$RW_RUN_DIR/bulk.resp" | tr -d '\r'
echo "dbsize: $(cli dbsize)"
server_alive

echo "== commands"
cli <<'COMMANDS' | tr -d '\r'
GET key:123
STRLEN key:29999
GETRANGE key:20000 0 15
LLEN biglist
LRANGE biglist 0 4
LRANGE biglist -3 -1
LINDEX biglist 5000
HLEN bighash
HGET bighash field:777
HEXISTS bighash field:10000
SCARD bigset
SISMEMBER bigset member-13
SORT bigset ALPHA LIMIT 0 5
ZCARD bigz
ZRANGE bigz 0 4 WITHSCORES
ZRANGEBYSCORE bigz 100 140
ZSCORE bigz zm-4999
ZRANK bigz zm-1
SET greeting hello
APPEND greeting ", world"
GET greeting
SETRANGE greeting 7 WORLD
GET greeting
INCRBY n 41
INCR n
GET n
MSET a 1 b 2 c 3
MGET a b c missing
RPUSH list one two three four five
LPUSH list zero
LRANGE list 0 -1
LTRIM list 1 4
LRANGE list 0 -1
OBJECT ENCODING list
HSET h f1 v1 f2 v2 f3 v3
HDEL h f1
HGETALL h
SADD s 5 3 1 4 2
SMEMBERS s
ZADD z 3 c 1 a 2 b 10 j
ZINCRBY z 5 a
ZRANGE z 0 -1 WITHSCORES
ZREVRANGE z 0 1
EVAL "local t = {} for i = 1, 20000 do t[i] = tostring(i * 3) end return #table.concat(t, ',')" 0
EVAL "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])" 1 lua-key lua-value
EXISTS a b nope
DEL a b c
RENAME greeting salutation
GET salutation
TYPE bigz
DBSIZE
COMMANDS
server_alive

echo "== big values"
head -c 1048576 /dev/zero | tr '\0' 'v' >"$RW_RUN_DIR/big.txt"
cli -x set bigvalue <"$RW_RUN_DIR/big.txt"
echo "strlen: $(cli strlen bigvalue)"
for i in $(seq 1 100); do printf 'APPEND grow %0*d\n' $((i * 97)) "$i"; done >"$RW_RUN_DIR/append.txt"
cli <"$RW_RUN_DIR/append.txt" | tail -n 1
echo "grow: $(cli strlen grow) $(cli getrange grow 0 9)"
echo "sorted keys: $(cli keys 'key:2999*' | sort | tr '\n' ' ')"
echo "keyspace: $(cli info keyspace | tr -d '\r' | grep '^db0')"
server_alive

echo "== deletes"
echo "del: $(cli del biglist bighash bigset bigz bigvalue)"
echo "unlink: $(cli unlink grow list h s z)"
echo "dbsize: $(cli dbsize)"
echo "flushall async: $(cli flushall async)"
for i in $(seq 1 100); do [[ "$(cli dbsize)" == 0 ]] && break; sleep 0.1; done
echo "dbsize: $(cli dbsize)"
echo "set after flush: $(cli set after flush) $(cli get after)"

echo "== shutdown"
status=0
cli shutdown nosave || status=$?
echo "redis-cli shutdown: status $status"
for i in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "redis-server still running 30 s after SHUTDOWN NOSAVE" >&2
  exit 1
fi
status=0
wait "$server_pid" || status=$?
server_pid=""
echo "redis-server: exit status $status"
[[ $status -eq 0 ]] || { tail -n 20 "$RW_LOG_DIR/redis.log" >&2; exit 1; }
