#!/usr/bin/env bash
#
# Run queue throughput and latency, for each backend: N empty runs (default
# 10,000) enqueued, then claimed and finished by 4 worker threads, each
# with its own connection (tb_queuebench, bench/queuebench.c): runs/s and
# claim latency (p50, p99). Then the idle cost of a waiting
# `tisbackup worker` (2 slots, empty queue): its utime+stime over 30 s,
# from /proc. Redis: a private redis-server on a free loopback port
# (appendonly yes, appendfsync everysec). Then worker pools: POOL_N empty
# runs (default 1,000) spread over 2 pools, 4 threads, 2 per pool, each
# claiming its pool only, against the same figures without pools (side by
# side, same N). Prints figures; not a test.
#
# Usage: bench/bench_queue.sh [N] [WORKERS] [IDLE_SECONDS] [POOL_N]

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

N=${1:-10000}
W=${2:-4}
IDLE=${3:-30}
POOL_N=${4:-1000}
BENCH=$(dirname "$TISBACKUP")/tests/tb_queuebench
tb_require_binary
tb_require redis-server redis-cli
[ -x "$BENCH" ] || t_bail "$BENCH missing (build first)"
tb_tmp

mkdir -p "$TMPD/redis"
for _ in 1 2 3 4 5; do
	REDIS_PORT=$(free_port)
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMPD/redis" \
		--appendonly yes --appendfsync everysec --save '' --daemonize no \
		--logfile "$TMPD/redis/redis.log" </dev/null >/dev/null 2>&1 &
	REDIS_PID=$!
	tb_track "$REDIS_PID"
	wait_until 10 port_open "$REDIS_PORT" && break
done

cfg_global "$CONF"
cfg_null "$CONF" idle
HZ=$(getconf CLK_TCK)

# cpu_ticks PID: utime + stime of the process (all its threads), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# cpu_ns PID: CPU time of its threads in ns (schedstat: finer than ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {print s}'; }

for b in sqlite redis; do
	gui=$TMPD/gui_$b.ini
	printf '[general]\nconfig_tisbackup = %s\n[queue]\nbackend = %s\nredis_url = redis://127.0.0.1:%s/0\nworkers = 2\n' \
		"$CONF" "$b" "$REDIS_PORT" >"$gui"
	mkdir -p "$TMPD/log_$b"
	echo "== $b: $N empty runs, $W workers"
	"$BENCH" "$gui" "$TMPD/log_$b" "$N" "$W"
	echo "== $b: $POOL_N empty runs, 4 workers, no pools (baseline) then 2 pools"
	mkdir -p "$TMPD/log_${b}_p0" "$TMPD/log_${b}_p2"
	[ "$b" = redis ] && redis-cli -p "$REDIS_PORT" flushdb >/dev/null
	"$BENCH" "$gui" "$TMPD/log_${b}_p0" "$POOL_N" 4
	[ "$b" = redis ] && redis-cli -p "$REDIS_PORT" flushdb >/dev/null
	"$BENCH" "$gui" "$TMPD/log_${b}_p2" "$POOL_N" 4 2

	echo "== $b: idle tisbackup worker (2 slots) over $IDLE s"
	"$TISBACKUP" --gui-config "$gui" worker >"$TMPD/worker_$b.log" 2>&1 </dev/null &
	wp=$!
	tb_track "$wp"
	sleep 2
	t0=$(cpu_ticks "$wp")
	n0=$(cpu_ns "$wp")
	sleep "$IDLE"
	t1=$(cpu_ticks "$wp")
	n1=$(cpu_ns "$wp")
	kill -TERM "$wp"
	wait "$wp"
	awk -v d=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$HZ" -v s="$IDLE" \
		'BEGIN { printf "idle_utime_stime_s=%.2f idle_cpu_ms=%.2f idle_cpu_pct_of_core=%.4f\n", d / hz, n / 1e6, 100 * n / 1e9 / s }'
done
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
