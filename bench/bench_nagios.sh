#!/usr/bin/env bash
#
# checknagios latency on a big installation: 200 jobs and a catalog of
# 100,000 rows (500 days of history per job). Goal: median <= 15 ms over
# 20 runs. Prints figures; not a test.
#
# Usage: bench/bench_nagios.sh [RUNS]   (TISBACKUP=path, default build/tisbackup)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-20}
NJOBS=200
NROWS=100000
tb_require_binary
tb_require sqlite3 ssh-keygen
tb_tmp

ssh-keygen -q -t ed25519 -N '' -f "$TMPD/key"
# Read by cfg_job; nothing connects anywhere.
export CLIENT_KEY=$TMPD/key KNOWN_HOSTS=$TMPD/known_hosts SSHD_PORT=22
cfg_global "$CONF"
sed -i 's/^maximum_backup_age = .*/maximum_backup_age = 30/' "$CONF"
for ((j = 0; j < NJOBS; j++)); do
	cfg_job "$CONF" "$(printf 'job%03d' "$j")" "/srv/data$j"
done

mkdir -p "$BASE/log"
sqlite3 "$CATALOG" <<EOF
CREATE TABLE stats (backup_name TEXT, server_name TEXT, description TEXT,
    backup_start TEXT, backup_end TEXT, backup_duration NUMERIC,
    total_files_count INT, written_files_count INT, total_bytes INT,
    written_bytes INT, status TEXT, log TEXT, backup_location TEXT, TYPE TEXT);
create index idx_stats_backup_name on stats(backup_name);
create index idx_stats_backup_location on stats(backup_location);
CREATE INDEX idx_stats_backup_name_start on stats(backup_name,backup_start);
-- row i: job i % $NJOBS, k = i / $NJOBS days ago (k = 0 is the newest, 1 h ago)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $NROWS - 1),
r(i, job, secs) AS (SELECT i, printf('job%03d', i % $NJOBS), (i / $NJOBS) * 86400 + 3600 FROM n)
INSERT INTO stats
SELECT job, 'srv-' || job, 'bench job',
       strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime', printf('-%d seconds', secs)) || '.123456',
       strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime', printf('-%d seconds', secs - 600)) || '.654321',
       0.16666, 50000 + i % 1000, i % 1000, 1073741824 + i, i * 10,
       CASE WHEN i / $NJOBS > 0 AND i % 10 = 3 THEN 'ERROR' ELSE 'OK' END,
       'ssh+rsync backup from /srv/data OK, ' || (i * 10) || ' bytes written for ' || (i % 1000) || ' changed files',
       '$BASE/' || job || '/' || strftime('%Y%m%d-%Hh%Mm%S', 'now', 'localtime', printf('-%d seconds', secs)),
       'BACKUP'
FROM r;
EOF
# The newest snapshot of every job exists on disk.
sqlite3 "$CATALOG" "select backup_location from stats where backup_start >= strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime', '-2 hours')" |
	while IFS= read -r d; do mkdir -p "$d"; done
echo "jobs: $NJOBS, catalog rows: $(sqlite3 "$CATALOG" 'select count(*) from stats')"

"$TISBACKUP" -c "$CONF" checknagios >"$TMPD/out" 2>&1
rc=$?
echo "checknagios exit code: $rc; first line: $(head -c 120 "$TMPD/out" | head -n 1)"

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

if command -v hyperfine >/dev/null 2>&1; then
	hyperfine -N -i --warmup 3 --runs "$RUNS" --export-json "$TMPD/bench.json" \
		-n checknagios "$TISBACKUP -c $CONF checknagios"
	med=$(grep -o '"median": *[0-9.e+-]*' "$TMPD/bench.json" | head -n 1 | sed 's/.*: *//')
else
	times=()
	for ((r = 0; r < 3; r++)); do "$TISBACKUP" -c "$CONF" checknagios >/dev/null 2>&1; done
	for ((r = 0; r < RUNS; r++)); do
		t0=$(date +%s.%N)
		"$TISBACKUP" -c "$CONF" checknagios >/dev/null 2>&1
		t1=$(date +%s.%N)
		times+=("$(awk "BEGIN{print $t1-$t0}")")
	done
	med=$(printf '%s\n' "${times[@]}" | median)
fi
echo
printf 'checknagios median over %d runs: %.2f ms (goal <= 15 ms)\n' "$RUNS" "$(awk "BEGIN{print $med*1000}")"
