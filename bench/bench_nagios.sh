#!/usr/bin/env bash
#
# checknagios latency on a big installation: 200 jobs and a catalog of
# 100,000 rows (500 days of history per job), wall and CPU time, side by
# side with the real original when TISBACKUP_PY_SRC=DIR names a checkout
# of it (same config, same catalog). Goal: median <= 5 ms over 20 runs.
# Prints figures; not a test.
#
# Usage: bench/bench_nagios.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        TISBACKUP_PY_SRC=DIR to time the original too; BENCH_PG=1 also times
#        checknagios on the same catalog copied into a PostgreSQL server started
#        here, by `catalog migrate`: issue 19's goal is <= 2x SQLite's)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

RUNS=${1:-20}
NJOBS=200
NROWS=100000
tb_require_binary
tb_require sqlite3 ssh-keygen
tb_tmp
bench_cg_setup
bench_original && have_orig=1 || have_orig=0

ssh-keygen -q -t ed25519 -N '' -f "$TMPD/key"
# Read by cfg_job; nothing connects anywhere.
export CLIENT_KEY=$TMPD/key KNOWN_HOSTS=$TMPD/known_hosts SSHD_PORT=22
cfg_global "$CONF"
sed -i 's/^maximum_backup_age = .*/maximum_backup_age = 30/' "$CONF"
for ((j = 0; j < NJOBS; j++)); do
	cfg_job "$CONF" "$(printf 'job%03d' "$j")" "/srv/data$j" "remote_user = root"
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

# The original refuses known_hosts_file (it does not know it).
grep -v '^known_hosts_file = ' "$CONF" >"$TMPD/orig.ini"
if [ $have_orig = 1 ]; then
	"${ORIG_CMD[@]}" -c "$TMPD/orig.ini" checknagios >"$TMPD/orig.out" 2>/dev/null
	echo "the original's exit code: $?; first line: $(head -c 120 "$TMPD/orig.out" | head -n 1)"
fi

ours_w=() ours_c=() orig_w=() orig_c=()
for ((r = 0; r < 3; r++)); do "$TISBACKUP" -c "$CONF" checknagios >/dev/null 2>&1; done
for ((r = 0; r < RUNS; r++)); do
	bench_measure "$TISBACKUP" -c "$CONF" checknagios
	ours_w+=("$BM_WALL") ours_c+=("$BM_CPU")
	if [ $have_orig = 1 ] && [ $r -lt 5 ]; then # the original is slow: 5 runs are enough
		bench_measure "${ORIG_CMD[@]}" -c "$TMPD/orig.ini" checknagios
		orig_w+=("$BM_WALL") orig_c+=("$BM_CPU")
	fi
done
ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }

w=$(printf '%s\n' "${ours_w[@]}" | bench_median)
c=$(printf '%s\n' "${ours_c[@]}" | bench_median)
echo
printf 'checknagios, %d jobs, %s catalog rows (medians)\n' "$NJOBS" "$NROWS"
printf '  tisbackup:    wall %8s ms   cpu %8s ms   (%d runs; goal <= 5 ms)\n' "$(ms "$w")" "$(ms "$c")" "$RUNS"
if [ $have_orig = 1 ]; then
	ow=$(printf '%s\n' "${orig_w[@]}" | bench_median)
	oc=$(printf '%s\n' "${orig_c[@]}" | bench_median)
	printf '  the original: wall %8s ms   cpu %8s ms   (%d runs)\n' "$(ms "$ow")" "$(ms "$oc")" "${#orig_w[@]}"
	awk -v a="$w" -v b="$ow" 'BEGIN { printf "  ratio tisbackup/original: %.3f\n", a / b }'
else
	echo "  the original: not measured"
fi
# What of the time is ours: the floors of this machine, run interleaved
# with the check (bench/runstat.py: wall, CPU and page faults of each
# process alone). /bin/true is an exec; true-linked is an empty C program
# linked against the same shared libraries as the binary (the loader's
# share); sqlite3 is the CLI reading the same rows (every job's two newest
# BACKUP rows, one statement) without the configuration, the verdicts or
# the stats of the snapshots.
if command -v python3 >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
	printf 'int main(void) { return 0; }\n' >"$TMPD/true.c"
	# -l:libNAME.so.N needs the full soname: take it from readelf as is.
	mapfile -t libs < <(readelf -d "$TISBACKUP" | sed -n 's/.*Shared library: \[\(lib[^]]*\)\].*/-l:\1/p' |
		grep -v -e '^-l:libc\.so' -e '^-l:ld-linux')
	cc -O2 -o "$TMPD/true-linked" "$TMPD/true.c" -Wl,--no-as-needed "${libs[@]}"
	vals=
	for ((j = 0; j < NJOBS; j++)); do
		printf -v v "('job%03d')" "$j"
		vals+=${vals:+,}$v
	done
	sql="WITH j(n) AS (VALUES $vals)"
	sql+=" SELECT s.* FROM j JOIN stats s ON s.rowid IN (SELECT rowid FROM stats WHERE backup_name = j.n"
	sql+=" AND TYPE = 'BACKUP' ORDER BY backup_start DESC, rowid DESC LIMIT 2)"
	echo
	echo "floors in this VM, interleaved with the check ($RUNS runs each, medians; the linked libraries: ${libs[*]#-l:}):"
	python3 "$here/runstat.py" "$RUNS" /bin/true /bin/true \
		"empty C program, same libraries" "$TMPD/true-linked" \
		"sqlite3 CLI, the same rows" "sqlite3 -readonly $CATALOG $(printf '%q' "$sql")" \
		"tisbackup checknagios" "$TISBACKUP -c $CONF checknagios"
else
	echo "floors: not measured (needs python3 and cc)"
fi

# The same catalog on PostgreSQL (issue 19): a server of lib.sh's on a
# socket, the rows copied by `catalog migrate`, the same config plus
# [catalog] url; interleaved with SQLite runs so load falls on both alike.
if [ "${BENCH_PG:-0}" = 1 ]; then
	tb_require runuser
	pg_start || { echo "PostgreSQL did not start"; exit 1; }
	runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE ROLE \"$(id -un)\" LOGIN" -c "CREATE DATABASE tbbench OWNER \"$(id -un)\"" >/dev/null ||
		{ echo "cannot create the bench database"; exit 1; }
	PGURL="postgresql://$(id -un)@/tbbench?host=$PG/sock&port=$PGPORT"
	"$TISBACKUP" catalog migrate --from "sqlite:$CATALOG" --to "$PGURL" >"$TMPD/migrate.out" 2>&1 ||
		{ cat "$TMPD/migrate.out"; exit 1; }
	{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$PGURL"; } >"$TMPD/pg.ini"
	"$TISBACKUP" -c "$TMPD/pg.ini" checknagios >"$TMPD/pg.out" 2>&1
	pgrc=$?
	echo "PostgreSQL catalog: $(tail -n 1 "$TMPD/migrate.out"); checknagios exit code: $pgrc"
	cmp -s <(head -n 1 "$TMPD/out" | cut -d'|' -f1) <(head -n 1 "$TMPD/pg.out" | cut -d'|' -f1) || echo "  (the first lines differ: $(head -c 200 "$TMPD/pg.out" | head -n 1))"
	for ((r = 0; r < 3; r++)); do "$TISBACKUP" -c "$TMPD/pg.ini" checknagios >/dev/null 2>&1; done
	pg_w=() sq_w=()
	for ((r = 0; r < RUNS; r++)); do
		bench_measure "$TISBACKUP" -c "$TMPD/pg.ini" checknagios
		pg_w+=("$BM_WALL")
		bench_measure "$TISBACKUP" -c "$CONF" checknagios
		sq_w+=("$BM_WALL")
	done
	pw=$(printf '%s\n' "${pg_w[@]}" | bench_median)
	sw=$(printf '%s\n' "${sq_w[@]}" | bench_median)
	printf '  on PostgreSQL: wall %8s ms (SQLite beside it: %s ms), ratio %s (goal <= 2)\n' \
		"$(ms "$pw")" "$(ms "$sw")" "$(awk -v a="$pw" -v b="$sw" 'BEGIN { printf "%.2f", a / b }')"
fi
# Instructions do not move with the machine's load, unlike the times above.
if command -v valgrind >/dev/null 2>&1; then
	ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$TISBACKUP" -c "$CONF" checknagios 2>&1 >/dev/null |
		sed -n 's/.*Collected : //p')
	echo "  tisbackup instructions (callgrind, one run): ${ir:-unknown}"
fi
