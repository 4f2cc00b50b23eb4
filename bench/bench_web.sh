#!/usr/bin/env bash
#
# tisbackup serve under load: wrk with 16 connections for DURATION seconds
# on /backups.json and on /api/v1/backups?limit=100, over a catalog of
# 100,000 BACKUP rows (100 jobs), then the resident memory (VmRSS) of an
# idle server. Goals: p99 <= 20 ms, idle VmRSS <= 10 MiB. Prints figures;
# not a test.
#
# Usage: bench/bench_web.sh [DURATION]   (TISBACKUP=path, default build/tisbackup)
#
# BENCH_PG=1: the same catalog is also copied (`catalog migrate`) into a
# PostgreSQL server started here (lib.sh's pg_start), a second serve reads
# it through [catalog] url, and the /api/v1/backups loads run on both
# servers, one after the other, and are printed side by side (p50/p99):
# the cached page, then pages the response cache cannot answer (random
# offsets; the job, status and since/until filters of the web UI), each
# request a new query. Issue 19's goal: p99 <= 20 ms on PostgreSQL. The
# keyset walks run twice: saturating (each connection sends its next
# request at once, so latency is 16 / throughput) and paced (each waits
# BENCH_PACE_MS, default 40, between requests).
#
# BENCH_HERD=1: only the herd load instead: a writer commits one row every
# ~100 ms (another process, as workers finishing backups do) while wrk
# reads one page (BENCH_HERD_PATH, default /api/v1/backups?limit=100) at
# 16 connections for DURATION seconds. Each commit makes the cached answer
# stale, and every request that misses it then reads the catalog unless
# the builds are single-flight. Prints requests/s, p50/p99, commits/s, the
# catalog answers built per second (/metrics' tisbackup_web_cache_builds_total,
# n/a on a serve without it) and what serve read per second (/proc/PID/io
# rchar: the catalog's pages, whichever build it is).

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=../tests/integration/web.sh
. "$here/../tests/integration/web.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

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
# The /api/v1/backups loads of BENCH_PG=1: NAME|QUERY, where QUERY is the
# fixed query string or @LOAD, a load of $TMPD/loads.lua: every request
# draws its parameters, so (with the 32-entry response cache) nearly each
# one runs the count and the page query on the catalog.
PG_LOADS=(
	'cached page (limit=100)|limit=100'
	'pages (random offset 0-2000)|@page'
	'job=jobNNN (random job, offset 0-900)|@job'
	'status=ERROR (offset 0-9900)|@status'
	'since/until (one random day)|@day'
	'job + status + since (30 days)|@mixed'
	'next pages (after=, from offset 0-2000)|@walk_page'
	'job=jobNNN, next pages (after=)|@walk_job'
	'status=ERROR, next pages (after=)|@walk_status'
	'one random day, next pages (after=)|@walk_day'
	'job + status + since, next pages|@walk_mixed'
)

write_loads() {
	cat >"$TMPD/loads.lua" <<'LUA'
-- One request per call, its parameters drawn at random (BENCH_LOAD).
local load = os.getenv("BENCH_LOAD")
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
end
local function day(n) return os.date("%Y-%m-%d", os.time() - n * 86400) end
-- The walk_ loads walk the list: a request is the next page (after=) of
-- an earlier answer, its filter read back from that answer's rows (job
-- name, day), its cursor that answer's next (the cursors waiting are per
-- wrk thread); with none waiting, a first page at a random offset of the
-- load without walk_. So nearly every request is a keyset page of a walk,
-- none of them cached.
local walk = load:match("^walk_(.*)$")
if walk ~= nil then load = walk end
local pending = {}
local function first_query()
  local q
  if load == "page" then
    q = "limit=100&offset=" .. math.random(0, 2000)
  elseif load == "job" then
    q = string.format("job=job%03d&limit=100&offset=%d", math.random(0, 99), math.random(0, 900))
  elseif load == "status" then
    q = "status=ERROR&limit=100&offset=" .. math.random(0, 9900)
  elseif load == "day" then
    local d = day(math.random(1, 68))
    q = "since=" .. d .. "&until=" .. d .. "&limit=100&offset=" .. math.random(0, 1300)
  else
    q = string.format("job=job%03d&status=ERROR&since=%s&limit=100&offset=%d",
      math.random(0, 99), day(30), math.random(0, 40))
  end
  return q
end
request = function()
  local q = first_query()
  if walk ~= nil then
    q = table.remove(pending) or q
  end
  return wrk.format(nil, "/api/v1/backups?" .. q)
end
if walk ~= nil then
  response = function(status, headers, body)
    local next = body:match('"next":"([^"]+)"')
    local job = body:match('"backup_name":"([^"]+)"')
    local d = body:match('"backup_start":"(%d+%-%d+%-%d+)')
    local q
    if status ~= 200 or next == nil or #pending >= 64 then
      return
    elseif load == "page" then
      q = "limit=100"
    elseif load == "job" then
      q = "job=" .. job .. "&limit=100"
    elseif load == "status" then
      q = "status=ERROR&limit=100"
    elseif load == "day" then
      q = "since=" .. d .. "&until=" .. d .. "&limit=100"
    else
      q = "job=" .. job .. "&status=ERROR&since=" .. day(30) .. "&limit=100"
    end
    table.insert(pending, q .. "&after=" .. next)
  end
end
-- BENCH_PACE_MS: each connection waits that long between requests (a
-- paced load, below saturation), instead of sending the next at once.
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "")
if pace ~= nil then
  delay = function() return pace end
end
LUA
}

# lat_ms "170.00us": the latency in ms.
lat_ms() {
	awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); n = v + 0
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# lat BASE COOKIE QUERY: "requests/s p50 p99 non2xx" of one wrk run.
lat() {
	local base=$1 cookie=$2 q=$3 out args=()
	if [ "${q:0:1}" = @ ]; then
		args=(-s "$TMPD/loads.lua" "$base/")
		export BENCH_LOAD=${q:1}
	else
		args=("$base/api/v1/backups?$q")
		# Cached from the first answer on: that one (16 misses at once
		# on a cold server) is not what the load measures.
		curl -s -o /dev/null -H "Cookie: $cookie" "${args[0]}"
	fi
	out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -H "Cookie: $cookie" "${args[@]}")
	printf '%s %s %s %s\n' \
		"$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { printf "%d", $2 }')" \
		"$(lat_ms "$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')")" \
		"$(lat_ms "$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')")" \
		"$(printf '%s\n' "$out" | awk '/Non-2xx/ { print $NF }')"
}

# bench_pg: the catalog into PostgreSQL, a second serve on it, the loads
# of PG_LOADS on both servers, a table. Runs beside the SQLite server
# ($WEB_PID), which it leaves running.
bench_pg() {
	local sq_pid=$WEB_PID sq_web=$WEB sq_cookie=$COOKIE sq_gui=$GUI pg_web pg_cookie
	local url i name q a b
	bench_pg_copy "$CATALOG" || return 1
	url=$BENCH_PGURL
	echo "PostgreSQL catalog: $(tail -n 1 "$TMPD/migrate.out")"
	# What autovacuum would do during the loads, done before them.
	psql -X -q -h "$PG/sock" -p "$PGPORT" -d tbbench -v ON_ERROR_STOP=1 \
		-c "VACUUM (ANALYZE) stats" >/dev/null ||
		{ echo "cannot vacuum the bench database"; return 1; }
	{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$url"; } >"$TMPD/pg.ini"
	# A second serve (web.sh's helpers work on $GUI/$WEB/$WEB_PID: swapped).
	sed "s|^config_tisbackup = .*|config_tisbackup = $TMPD/pg.ini|" "$sq_gui" >"$TMPD/gui-pg.ini"
	GUI=$TMPD/gui-pg.ini
	WEB_PORT=$(free_port)
	WEB=http://127.0.0.1:$WEB_PORT
	sed -i "s|^listen = .*|listen = 127.0.0.1:$WEB_PORT|" "$GUI"
	web_start
	web_login bench bench-pw-1 "$TMPD/jar-pg"
	pg_web=$WEB
	pg_cookie=$(awk '$6 == "tb_session" { print "tb_session=" $7 }' "$TMPD/jar-pg")
	a=$(curl -s -H "Cookie: $sq_cookie" "$sq_web/api/v1/backups?limit=100&status=ERROR&offset=37" | md5sum)
	b=$(curl -s -H "Cookie: $pg_cookie" "$pg_web/api/v1/backups?limit=100&status=ERROR&offset=37" | md5sum)
	[ "$a" = "$b" ] || echo "  (SQLite and PostgreSQL answer different pages)"
	write_loads
	echo
	echo "/api/v1/backups, wrk -t2 -c16 -d${DURATION}s, $NROWS rows; SQLite then PostgreSQL per load"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-36s | %8s %8s %8s | %8s %8s %8s\n' load 'SQ req/s' 'SQ p50' 'SQ p99' 'PG req/s' 'PG p50' 'PG p99'
	for i in "${PG_LOADS[@]}"; do
		name=${i%%|*} q=${i#*|}
		read -r -a a <<<"$(lat "$sq_web" "$sq_cookie" "$q")"
		read -r -a b <<<"$(lat "$pg_web" "$pg_cookie" "$q")"
		printf '%-36s | %8s %8s %8s | %8s %8s %8s%s\n' "$name" "${a[0]}" "${a[1]}" "${a[2]}" \
			"${b[0]}" "${b[1]}" "${b[2]}" "$([ -n "${a[3]:-}${b[3]:-}" ] && echo "  non-2xx: ${a[3]:-0}/${b[3]:-0}")"
	done
	echo "(latencies in ms; goal: PG p99 <= 20 ms)"
	# The same walks paced: 16 connections each waiting BENCH_PACE_MS
	# (default 40 ms) between requests, as many people paging at once
	# rather than a saturating client (where latency = 16 / throughput).
	export BENCH_PACE_MS=${BENCH_PACE_MS:-40}
	echo
	echo "the walks paced: 16 connections, each waiting ${BENCH_PACE_MS} ms between requests"
	printf '%-36s | %8s %8s %8s | %8s %8s %8s\n' load 'SQ req/s' 'SQ p50' 'SQ p99' 'PG req/s' 'PG p50' 'PG p99'
	for i in "${PG_LOADS[@]}"; do
		name=${i%%|*} q=${i#*|}
		case $q in @walk_*) ;; *) continue ;; esac
		read -r -a a <<<"$(lat "$sq_web" "$sq_cookie" "$q")"
		read -r -a b <<<"$(lat "$pg_web" "$pg_cookie" "$q")"
		printf '%-36s | %8s %8s %8s | %8s %8s %8s%s\n' "$name" "${a[0]}" "${a[1]}" "${a[2]}" \
			"${b[0]}" "${b[1]}" "${b[2]}" "$([ -n "${a[3]:-}${b[3]:-}" ] && echo "  non-2xx: ${a[3]:-0}/${b[3]:-0}")"
	done
	unset BENCH_PACE_MS
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	web_stop
	GUI=$sq_gui WEB=$sq_web WEB_PID=$sq_pid
	WEB_PORT=${sq_web##*:}
}

# cache_builds: serve's response-cache builds but /metrics' own, or n/a.
cache_builds() {
	curl -s -H "Cookie: $COOKIE" "$WEB/metrics" | awk '
		/^tisbackup_web_cache_builds_total/ && !/kind="metrics"/ { n += $2; seen = 1 }
		END { if (seen) print n; else print "n/a" }'
}
rchar() { awk '$1 == "rchar:" { print $2 }' "/proc/$WEB_PID/io"; }

# bench_herd: the BENCH_HERD=1 load (see the top).
bench_herd() {
	local path=${BENCH_HERD_PATH:-/api/v1/backups?limit=100} out b0 b1 r0 r1 t0 t1 n0 n1 writer
	local secs rps p50 p99
	curl -s -o /dev/null -H "Cookie: $COOKIE" "$WEB$path"
	n0=$(sqlite3 "$CATALOG" "SELECT count(*) FROM stats")
	b0=$(cache_builds) r0=$(rchar) t0=$(date +%s.%N)
	(
		while [ ! -e "$TMPD/herd.stop" ]; do
			sqlite3 -cmd '.timeout 5000' "$CATALOG" "INSERT INTO stats (backup_name,
			  server_name, backup_start, backup_end, backup_duration, status, log, TYPE)
			  VALUES ('job000', 'srv000', strftime('%Y-%m-%dT%H:%M:%f000', 'now'),
			  strftime('%Y-%m-%dT%H:%M:%f000', 'now'), 0.01, 'OK', 'herd', 'BACKUP')"
			sleep 0.1
		done
	) &
	writer=$!
	out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "$WEB$path")
	touch "$TMPD/herd.stop"
	wait "$writer"
	t1=$(date +%s.%N) r1=$(rchar) b1=$(cache_builds)
	n1=$(sqlite3 "$CATALOG" "SELECT count(*) FROM stats")
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { printf "%d", $2 }')
	p50=$(lat_ms "$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')")
	p99=$(lat_ms "$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')")
	echo "== herd: wrk -t2 -c16 -d${DURATION}s $path, a commit every ~100 ms"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	awk -v rps="$rps" -v p50="$p50" -v p99="$p99" -v c=$((n1 - n0)) -v s="$secs" \
		-v b0="$b0" -v b1="$b1" -v r=$((r1 - r0)) 'BEGIN {
		printf "  requests/s %s   p50 %s ms   p99 %s ms\n", rps, p50, p99
		printf "  commits %d (%.1f/s)   ", c, c / s
		if (b0 == "n/a" || b1 == "n/a") printf "catalog builds/s n/a"
		else printf "catalog builds %d (%.1f/s, %.2f per commit)", b1 - b0, (b1 - b0) / s, (b1 - b0) / (c > 0 ? c : 1)
		printf "   serve read %.1f MiB/s\n", r / s / 1048576 }'
	printf '%s\n' "$out" | grep -E 'Non-2xx|Socket errors'
}

if [ "${BENCH_HERD:-0}" = 1 ]; then
	bench_herd
	web_stop
	exit 0
fi

for path in /backups.json '/api/v1/backups?limit=100' /api/v1/jobs /metrics; do
	bench "$WEB$path"
done
# What a browser asks for: the cached answer gzipped.
bench -H 'Accept-Encoding: gzip' "$WEB/backups.json"
sleep 2
echo "VmRSS after the load: $(rss)"
[ "${BENCH_PG:-0}" = 1 ] && bench_pg
web_stop
# A fresh server, untouched: the idle figure of the goal.
web_start
sleep 1
echo "idle VmRSS (fresh server, no request but the start probe): $(rss)"
web_stop
