#!/usr/bin/env bash
#
# Cold answers of tisbackup serve: one GET /metrics and one GET
# /api/v1/jobs that its response cache cannot answer, on 100 jobs over a
# catalog of 100,000 rows (bench_web.sh's fixture, plus CLEAN, VERIFY and
# Running rows, and the rows of a job no config names). Two cases, RUNS
# times each (median printed):
#   - after a commit (another process updates a row): the answer is stale;
#   - after the cache's max age with no commit since (/metrics is kept 2 s,
#     /api/v1/jobs 5 s: a Prometheus scraping every few seconds).
# Per request: curl's time_total (wall) and serve's CPU time for it
# (utime + stime of /proc/PID/stat, in clock ticks: 10 ms steps).
#
# Usage: bench/bench_web_cold.sh [RUNS]   (default 5)
#   TISBACKUP=path        the binary measured (default build/tisbackup)
#   TISBACKUP_BEFORE=path another build measured the same way, first, on
#                         the same catalog; its answers are then compared
#                         with TISBACKUP's (the job series of /metrics, the
#                         job objects of /api/v1/jobs, times of day aside)
#   BENCH_ROWS=N          rows (default 100000)
#   BENCH_PG=1            the same again on a PostgreSQL copy of the
#                         catalog (catalog migrate), with EXPLAIN ANALYZE
#                         of the two queries that read every job
# Prints figures; not a test.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=../tests/integration/web.sh
. "$here/../tests/integration/web.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

RUNS=${1:-5}
NROWS=${BENCH_ROWS:-100000}
AFTER=$TISBACKUP
BEFORE=${TISBACKUP_BEFORE:-}
tb_require_binary
tb_require sqlite3 curl python3
[ -z "$BEFORE" ] || [ -x "$BEFORE" ] || t_bail "TISBACKUP_BEFORE=$BEFORE is not an executable"
tb_tmp
TICK=$(getconf CLK_TCK)

web_conf_jobs 100
printf '[fresh]\ntype = null\nserver_name = localhost\n' >>"$CONF" # a job with no row
fill_catalog "$NROWS"
# What cleanup, verify and running backups leave: every 7th row CLEAN,
# three VERIFY rows for each of job000..job059 (every 4th failed, every
# 5th passed with a warning), a Running verify newest for job000..job009
# and a Running backup for job010..job019; 500 rows of a retired job.
sqlite3 "$CATALOG" >/dev/null <<'SQL'
BEGIN;
UPDATE stats SET TYPE = 'CLEAN' WHERE rowid % 7 = 3;
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 179)
INSERT INTO stats (backup_name, server_name, description, backup_start, backup_end,
  backup_duration, status, log, TYPE)
SELECT printf('job%03d', i % 60), printf('srv%03d', i % 60), '',
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', printf('-%d hours', i)),
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', printf('-%d hours', i), '+5 minutes'),
  5.0 / 60, CASE WHEN i % 4 = 0 THEN 'ERROR' ELSE 'OK' END,
  CASE WHEN i % 5 = 0 THEN 'WARNING: 1 file differs' ELSE 'verified' END, 'VERIFY'
FROM seq;
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 19)
INSERT INTO stats (backup_name, server_name, description, backup_start, backup_end,
  status, log, TYPE)
SELECT printf('job%03d', i), printf('srv%03d', i), '',
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime'),
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime'), 'Running', '',
  CASE WHEN i < 10 THEN 'VERIFY' ELSE 'BACKUP' END
FROM seq;
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 499)
INSERT INTO stats (backup_name, server_name, description, backup_start, backup_end,
  backup_duration, status, log, TYPE)
SELECT 'retired', 'gone', '',
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', printf('-%d days', i)),
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', printf('-%d days', i)),
  0.1, CASE WHEN i % 3 = 0 THEN 'ERROR' ELSE 'OK' END, 'old',
  CASE WHEN i % 2 = 0 THEN 'BACKUP' ELSE 'VERIFY' END
FROM seq;
COMMIT;
SQL
web_config
web_user bench admin 'bench-pw-1' || t_bail "tisbackup user add failed"
echo "catalog: $(sqlite3 "$CATALOG" 'SELECT count(*) FROM stats') rows ($(du -h "$CATALOG" | cut -f1)), 100 jobs"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# serve_cpu: serve's utime + stime so far, in clock ticks.
serve_cpu() { awk '{ print $14 + $15 }' "/proc/$WEB_PID/stat"; }

# get PATH OUT: one request; prints "WALL_S CPU_S", the body into OUT.
get() {
	local c0 c1 wall
	c0=$(serve_cpu)
	wall=$(curl -s -o "$2" -w '%{time_total}' --max-time 120 -b "$TMPD/jar" "$WEB$1")
	c1=$(serve_cpu)
	awk -v w="$wall" -v c=$((c1 - c0)) -v t="$TICK" 'BEGIN { printf "%.4f %.3f\n", w, c / t }'
}

# med FILE COLUMN: the median of one column.
med() { awk -v k="$2" '{ print $k }' "$1" | bench_median; }

# rounds LABEL COMMIT...: RUNS rounds of COMMIT (a command that commits),
# then both answers cold, then, once the cache's max age has passed with
# no commit, both again; one line of medians per case and answer. The
# first round's bodies are kept as $TMPD/LABEL.metrics and LABEL.jobs.
rounds() {
	local label=$1 i p k
	shift
	rm -f "$TMPD"/t.*
	for ((i = 0; i < RUNS; i++)); do
		"$@" || { echo "  the commit failed"; return 1; }
		get /metrics "$TMPD/b.metrics" >>"$TMPD/t.metrics.commit"
		get /api/v1/jobs "$TMPD/b.jobs" >>"$TMPD/t.jobs.commit"
		[ "$i" = 0 ] && cp "$TMPD/b.metrics" "$TMPD/$label.metrics" && cp "$TMPD/b.jobs" "$TMPD/$label.jobs"
		sleep 5.2 # past VIEW_MAX_AGE (5 s) and METRICS_MAX_AGE (2 s)
		get /metrics "$TMPD/b.metrics" >>"$TMPD/t.metrics.idle"
		get /api/v1/jobs "$TMPD/b.jobs" >>"$TMPD/t.jobs.idle"
	done
	for k in commit idle; do
		for p in metrics jobs; do
			printf '  %-8s %-14s %-18s wall %7.3f s   serve cpu %6.2f s\n' "$label" \
				"$([ $p = metrics ] && echo /metrics || echo /api/v1/jobs)" \
				"$([ $k = commit ] && echo 'after a commit' || echo 'expired, no commit')" \
				"$(med "$TMPD/t.$p.$k" 1)" "$(med "$TMPD/t.$p.$k" 2)"
		done
	done
}

# same A B: whether two answers agree (A.metrics, A.jobs against B's).
same() {
	python3 - "$TMPD/$1" "$TMPD/$2" <<'PY'
import json, re, sys
a, b = sys.argv[1], sys.argv[2]
def series(path):
    # The job series; times of day (next runs) and the cache counters aside.
    keep = []
    for line in open(path):
        if line.startswith("tisbackup_job_") and not line.startswith("tisbackup_job_next_run"):
            keep.append(line)
    return keep
def jobs(path):
    d = json.load(open(path))
    for j in d["items"]:
        for k in ("age_hours", "next_run", "next_cleanup", "progress"):
            j.pop(k, None)
        if j.get("last_verify"):
            j["last_verify"].pop("age_hours", None)
    return d["items"]
ma, mb = series(a + ".metrics"), series(b + ".metrics")
ja, jb = jobs(a + ".jobs"), jobs(b + ".jobs")
runs = [l for l in ma if l.startswith("tisbackup_job_runs_total")]
verified = sum(1 for j in ja if j.get("last_verify"))
print("  /metrics job series: %s (%d lines, %d tisbackup_job_runs_total)" %
      ("identical" if ma == mb else "DIFFERENT", len(ma), len(runs)))
print("  /api/v1/jobs items: %s (%d jobs, %d with a last_verify)" %
      ("identical" if ja == jb else "DIFFERENT", len(ja), verified))
if ma != mb:
    for x, y in zip(ma, mb):
        if x != y:
            print("    first difference:\n      %s      %s" % (x, y))
            break
PY
}

# measure BACKEND COMMIT...: both builds on the current $GUI.
measure() {
	local backend=$1 bin
	shift
	for bin in ${BEFORE:+before} after; do
		TISBACKUP=$([ "$bin" = before ] && echo "$BEFORE" || echo "$AFTER")
		web_start
		web_login bench bench-pw-1 "$TMPD/jar"
		rounds "$bin" "$@"
		web_stop
	done
	TISBACKUP=$AFTER
	[ -n "$BEFORE" ] && same before after
	for bin in ${BEFORE:+before} after; do
		mv "$TMPD/$bin.metrics" "$TMPD/$backend-$bin.metrics"
		mv "$TMPD/$bin.jobs" "$TMPD/$backend-$bin.jobs"
	done
}

TICKS=0
sq_commit() {
	TICKS=$((TICKS + 1))
	sqlite3 -cmd '.timeout 5000' "$CATALOG" \
		"UPDATE stats SET log = 'tick $TICKS' WHERE rowid = (SELECT max(rowid) FROM stats WHERE backup_name = 'retired')"
}

echo
echo "SQLite: plans of the reads of every job (EXPLAIN QUERY PLAN)"
sqlite3 "$CATALOG" "EXPLAIN QUERY PLAN SELECT backup_name, TYPE, status, count(*) FROM stats NOT INDEXED
  WHERE backup_name IS NOT NULL AND TYPE IS NOT NULL AND status IS NOT NULL AND status <> 'Running'
  GROUP BY 1, 2, 3" | sed 's/^/    /'
echo "SQLite, $RUNS rounds, medians${BEFORE:+ (before: $BEFORE)}, after: $AFTER"
measure sqlite sq_commit

if [ "${BENCH_PG:-0}" = 1 ]; then
	bench_pg_copy "$CATALOG" || exit 1
	pg() { psql -X -q -h "$PG/sock" -p "$PGPORT" -d tbbench -v ON_ERROR_STOP=1 "$@"; }
	pg -c "VACUUM (ANALYZE) stats" >/dev/null || t_bail "cannot vacuum the bench database"
	echo
	echo "PostgreSQL: $(tail -n 1 "$TMPD/migrate.out")"
	echo "PostgreSQL: EXPLAIN ANALYZE of the reads of every job"
	pg -At -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT backup_name, type, status, count(*) FROM stats
	  WHERE backup_name IS NOT NULL AND type IS NOT NULL AND status IS NOT NULL AND status <> 'Running'
	  GROUP BY 1, 2, 3" | sed 's/^/    /'
	pg -At -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM stats WHERE rowid IN (SELECT DISTINCT
	  ON (backup_name) rowid FROM stats WHERE backup_name IS NOT NULL AND type = 'VERIFY' AND
	  status IS NOT NULL AND status <> 'Running' ORDER BY backup_name, backup_start DESC NULLS
	  LAST, rowid DESC)" | sed 's/^/    /'
	{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$BENCH_PGURL"; } >"$TMPD/pg.ini"
	sed -i "s|^config_tisbackup = .*|config_tisbackup = $TMPD/pg.ini|" "$GUI"
	pg_commit() {
		TICKS=$((TICKS + 1))
		pg -c "UPDATE stats SET log = 'tick $TICKS' WHERE rowid = (SELECT max(rowid) FROM stats WHERE backup_name = 'retired')"
	}
	echo "PostgreSQL, $RUNS rounds, medians"
	measure pg pg_commit
	if [ -n "$BEFORE" ]; then
		echo "SQLite and PostgreSQL (after):"
		same sqlite-after pg-after
	fi
fi
