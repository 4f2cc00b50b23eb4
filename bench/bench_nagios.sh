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
#        here, by `catalog migrate`: issue 19's goal is <= 2x SQLite's; then
#        the floor (bench_pgfloor next to TISBACKUP: connect + SELECT 1) over
#        the socket, checknagios and the floors through pgbouncer in
#        transaction mode (socket and TCP) when it is installed, and
#        checknagios and the floor over TCP + password + TLS)

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
# pg_faults FORMAT CMD1... -- CMD2...: the minor page faults of one run of each.
pg_faults() {
	local fmt=$1 a=() f1 f2
	shift
	while [ "$1" != -- ]; do a+=("$1") && shift; done
	shift
	[ -x /usr/bin/time ] || return 0
	f1=$(/usr/bin/time -f %R "${a[@]}" 2>&1 >/dev/null | tail -n 1)
	f2=$(/usr/bin/time -f %R "$@" 2>&1 >/dev/null | tail -n 1)
	# shellcheck disable=SC2059 # the format is the caller's
	printf "$fmt" "$f1" "$f2"
}

# pg_floor LABEL CONNINFO: median wall of bench_pgfloor (connect + SELECT 1), RUNS runs.
pg_floor() {
	local fl=() fc=() r fw fcpu flt
	"$floor" "$2" || { echo "  floor ($1): bench_pgfloor failed"; return 0; }
	for ((r = 0; r < RUNS; r++)); do
		bench_measure "$floor" "$2"
		fl+=("$BM_WALL") fc+=("$BM_CPU")
	done
	fw=$(printf '%s\n' "${fl[@]}" | bench_median)
	fcpu=$(printf '%s\n' "${fc[@]}" | bench_median)
	flt=$([ -x /usr/bin/time ] && /usr/bin/time -f %R "$floor" "$2" 2>&1 | tail -n 1)
	printf '  floor, %s: connect + SELECT 1 wall %8s ms, CPU %s ms, %s page faults\n' \
		"$1" "$(ms "$fw")" "$(ms "$fcpu")" "${flt:-?}"
}

# pg_tcp_setup: the bench's server (lib.sh's, socket only, peer) restarted
# to listen on 127.0.0.1 with TLS (a self-signed certificate) and
# scram-sha-256 for this user, whose password goes to $TMPD/pgpass.
pg_tcp_setup() {
	local pw
	command -v openssl >/dev/null 2>&1 || return 1
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout "$PG/data/server.key" -out "$PG/data/server.crt" >/dev/null 2>&1 || return 1
	chown postgres "$PG/data/server.key" "$PG/data/server.crt"
	chmod 600 "$PG/data/server.key"
	sed -i '1i host all all 127.0.0.1/32 scram-sha-256' "$PG/data/pg_hba.conf"
	runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -d postgres \
		-c "ALTER ROLE \"$(id -un)\" PASSWORD '$pw'" >/dev/null || return 1
	printf '127.0.0.1:%s:tbbench:%s:%s\n' "$PGPORT" "$(id -un)" "$pw" >"$TMPD/pgpass"
	chmod 600 "$TMPD/pgpass"
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
		-o "-k $PG/sock -p $PGPORT -c listen_addresses=127.0.0.1 -c ssl=on" restart >/dev/null 2>&1
}
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
	bench_pg_copy "$CATALOG" || exit 1
	PGURL=$BENCH_PGURL
	{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$PGURL"; } >"$TMPD/pg.ini"
	"$TISBACKUP" -c "$TMPD/pg.ini" checknagios >"$TMPD/pg.out" 2>&1
	pgrc=$?
	echo "PostgreSQL catalog: $(tail -n 1 "$TMPD/migrate.out"); checknagios exit code: $pgrc"
	cmp -s <(head -n 1 "$TMPD/out" | cut -d'|' -f1) <(head -n 1 "$TMPD/pg.out" | cut -d'|' -f1) || echo "  (the first lines differ: $(head -c 200 "$TMPD/pg.out" | head -n 1))"
	for ((r = 0; r < 3; r++)); do "$TISBACKUP" -c "$TMPD/pg.ini" checknagios >/dev/null 2>&1; done
	pg_w=() sq_w=() pg_c=() sq_c=()
	for ((r = 0; r < RUNS; r++)); do
		bench_measure "$TISBACKUP" -c "$TMPD/pg.ini" checknagios
		pg_w+=("$BM_WALL") pg_c+=("$BM_CPU")
		bench_measure "$TISBACKUP" -c "$CONF" checknagios
		sq_w+=("$BM_WALL") sq_c+=("$BM_CPU")
	done
	pw=$(printf '%s\n' "${pg_w[@]}" | bench_median)
	sw=$(printf '%s\n' "${sq_w[@]}" | bench_median)
	printf '  on PostgreSQL: wall %8s ms (SQLite beside it: %s ms), ratio %s (goal <= 2)\n' \
		"$(ms "$pw")" "$(ms "$sw")" "$(awk -v a="$pw" -v b="$sw" 'BEGIN { printf "%.2f", a / b }')"
	# CPU of the client and of the server's backend (both in the bench's cgroup, if any).
	pc=$(printf '%s\n' "${pg_c[@]}" | bench_median)
	sc=$(printf '%s\n' "${sq_c[@]}" | bench_median)
	printf '  CPU, client + server: PostgreSQL %s ms, SQLite %s ms, ratio %s\n' \
		"$(ms "$pc")" "$(ms "$sc")" "$(awk -v a="$pc" -v b="$sc" 'BEGIN { printf "%.2f", a / b }')"
	pg_faults "  page faults (minor, one run): SQLite %s, PostgreSQL %s\n" \
		"$TISBACKUP" -c "$CONF" checknagios -- "$TISBACKUP" -c "$TMPD/pg.ini" checknagios
	# The floor: a process that loads libpq as tisbackup does, connects
	# with the same address and runs SELECT 1 (bench/bench_pgfloor.c).
	floor=$(dirname "$TISBACKUP")/bench_pgfloor
	if [ -x "$floor" ]; then
		pg_floor "socket, peer" "$PGURL"
	else
		echo "  floor: not measured (ninja -C $(dirname "$TISBACKUP") bench_pgfloor)"
	fi
	# Through a pooler: pgbouncer on the backup host (lib.sh's
	# pgbouncer_start, pool_mode = transaction), in front of the same
	# server; each check connects to pgbouncer, the backend stays. On its
	# socket (peer) and on 127.0.0.1 (scram-sha-256, the role's secret in
	# pgbouncer's auth_file, the password from a PGPASSFILE), interleaved
	# with SQLite and the direct socket by runstat.py: "all" is the bench
	# cgroup's CPU during the run (client, backend, pgbouncer), then
	# pgbouncer's own and the pooled backend's (/proc/PID/schedstat).
	if command -v pgbouncer >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
		me=$(id -un)
		pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
		runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -d postgres \
			-c "ALTER ROLE \"$me\" PASSWORD '$pw'" >/dev/null
		(umask 077 && printf '127.0.0.1:*:tbbench:%s:%s\n' "$me" "$pw" >"$TMPD/pgbpass")
		if pgbouncer_start transaction "$me" peer; then
			PGBURL="postgresql://$me@/tbbench?host=$PGB/sock&port=$PGB_PORT"
			PGBTCP="postgresql://$me@127.0.0.1:$PGB_PORT/tbbench"
			{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$PGBURL"; } >"$TMPD/pgb.ini"
			{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$PGBTCP"; } >"$TMPD/pgbtcp.ini"
			export PGPASSFILE=$TMPD/pgbpass
			for i in pgb pgbtcp; do
				"$TISBACKUP" -c "$TMPD/$i.ini" checknagios >"$TMPD/$i.out" 2>&1
				echo "  through pgbouncer ($i): checknagios exit code $?"
				cmp -s <(head -n 1 "$TMPD/out" | cut -d'|' -f1) <(head -n 1 "$TMPD/$i.out" | cut -d'|' -f1) ||
					echo "  (the first lines differ: $(head -c 200 "$TMPD/$i.out" | head -n 1))"
			done
			# The pooled backends (one, when the checks run one at a time).
			cpu_of=(--cpu-of "pgbouncer=$PGB_PID")
			for p in $(pgbouncer_admin "SHOW SERVERS" | cut -d'|' -f16); do
				cpu_of+=(--cpu-of "backend=$p")
			done
			fl=()
			if [ -x "$floor" ]; then
				fl=("floor: direct, socket" "$floor $PGURL"
					"floor: pgbouncer, socket" "$floor $PGBURL"
					"floor: pgbouncer, TCP" "$floor $PGBTCP")
			fi
			echo
			echo "checknagios through pgbouncer (transaction pooling), interleaved ($RUNS runs, medians; ratios to SQLite's):"
			python3 "$here/runstat.py" ${BENCH_CG:+--cgroup "$BENCH_CG"} "${cpu_of[@]}" --ratio "$RUNS" \
				"SQLite" "$TISBACKUP -c $CONF checknagios" \
				"PostgreSQL direct, socket" "$TISBACKUP -c $TMPD/pg.ini checknagios" \
				"pgbouncer, socket (peer)" "$TISBACKUP -c $TMPD/pgb.ini checknagios" \
				"pgbouncer, TCP (scram)" "$TISBACKUP -c $TMPD/pgbtcp.ini checknagios" \
				"${fl[@]}"
			unset PGPASSFILE
		else
			echo "  through pgbouncer: not measured (pgbouncer did not start)"
		fi
	else
		echo "  through pgbouncer: not measured (needs pgbouncer and python3)"
	fi
	# What a server on another host needs, on loopback: TCP, a password
	# (scram-sha-256, from a pgpass file) and TLS on (Debian's default).
	if pg_tcp_setup; then
		TCPURL="postgresql://$(id -un)@127.0.0.1:$PGPORT/tbbench"
		{ cat "$CONF"; printf '\n[catalog]\nurl = %s\n' "$TCPURL"; } >"$TMPD/tcp.ini"
		export PGPASSFILE=$TMPD/pgpass
		"$TISBACKUP" -c "$TMPD/tcp.ini" checknagios >"$TMPD/tcp.out" 2>&1
		echo "  over TCP: checknagios exit code $?"
		tcp_w=() sq_w=() tcp_c=()
		for ((r = 0; r < RUNS; r++)); do
			bench_measure "$TISBACKUP" -c "$TMPD/tcp.ini" checknagios
			tcp_w+=("$BM_WALL") tcp_c+=("$BM_CPU")
			bench_measure "$TISBACKUP" -c "$CONF" checknagios
			sq_w+=("$BM_WALL")
		done
		tw=$(printf '%s\n' "${tcp_w[@]}" | bench_median)
		sw=$(printf '%s\n' "${sq_w[@]}" | bench_median)
		tc=$(printf '%s\n' "${tcp_c[@]}" | bench_median)
		printf '  on PostgreSQL over TCP (127.0.0.1, password): wall %8s ms (SQLite beside it: %s ms), ratio %s; CPU %s ms\n' \
			"$(ms "$tw")" "$(ms "$sw")" "$(awk -v a="$tw" -v b="$sw" 'BEGIN { printf "%.2f", a / b }')" "$(ms "$tc")"
		if [ -x "$floor" ]; then
			# tisbackup's loopback defaults, then libpq's own (TLS, GSSAPI probe)
			pg_floor "TCP, scram, loopback defaults" "$TCPURL?sslmode=allow&gssencmode=disable"
			pg_floor "TCP, scram, TLS (libpq defaults)" "$TCPURL"
		fi
		unset PGPASSFILE
	else
		echo "  over TCP: not measured (the server did not restart with TCP and TLS)"
	fi
fi
# Instructions do not move with the machine's load, unlike the times above.
if command -v valgrind >/dev/null 2>&1; then
	ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$TISBACKUP" -c "$CONF" checknagios 2>&1 >/dev/null |
		sed -n 's/.*Collected : //p')
	echo "  tisbackup instructions (callgrind, one run): ${ir:-unknown}"
fi
