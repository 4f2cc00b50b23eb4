#!/usr/bin/env bash
#
# tisbackup serve under load: wrk with 16 connections for DURATION seconds
# on /backups.json and on /api/v1/backups?limit=100, over a catalog of
# 100,000 BACKUP rows (100 jobs), then the resident memory (VmRSS) of an
# idle server. Goals: p99 <= 20 ms, idle VmRSS <= 10 MiB. Prints figures;
# not a test.
#
# Usage: bench/bench_web.sh [DURATION]   (TISBACKUP=path, default build/tisbackup)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=../tests/integration/web.sh
. "$here/../tests/integration/web.sh"

DURATION=${1:-10}
NROWS=${BENCH_ROWS:-100000}
tb_require_binary
tb_require sqlite3 wrk curl python3
tb_tmp

web_conf_jobs 100
fill_catalog "$NROWS"
web_config
web_user bench admin 'bench-pw-1' || t_bail "tisbackup user add failed"
web_start
JAR=$TMPD/jar
web_login bench bench-pw-1 "$JAR"
COOKIE=$(awk '$6 == "tb_session" { print "tb_session=" $7 }' "$JAR")

rss() { awk '/^VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$WEB_PID/status"; }
echo "catalog: $NROWS rows ($(du -h "$CATALOG" | cut -f1)), serve pid $WEB_PID"
echo "idle VmRSS after start: $(rss)"
size=$(curl -s -H "Cookie: $COOKIE" "$WEB/backups.json" | wc -c)
echo "/backups.json: $size bytes"

bench() {
	echo "== wrk -t2 -c16 -d${DURATION}s $*"
	wrk -t2 -c16 -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "$@" |
		grep -E 'Requests/sec|Transfer/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}
for path in /backups.json '/api/v1/backups?limit=100' /api/v1/jobs /metrics; do
	bench "$WEB$path"
done
# What a browser asks for: the cached answer gzipped.
bench -H 'Accept-Encoding: gzip' "$WEB/backups.json"
sleep 2
echo "VmRSS after the load: $(rss)"
web_stop
# A fresh server, untouched: the idle figure of the goal.
web_start
sleep 1
echo "idle VmRSS (fresh server, no request but the start probe): $(rss)"
web_stop
