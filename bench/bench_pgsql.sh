#!/usr/bin/env bash
#
# pgsql+ssh against the original's way (issue 4): a ~1 GB PostgreSQL
# database dumped
#  (a) as the Python TISBackup does it: `pg_dump -Z9` into a temp file on
#      the server, fetched with sftp, then removed with ssh rm;
#  (b) by `tisbackup backup` with a pgsql+ssh job (streamed, nothing staged).
# Same sshd (lib.sh), same key, port and known_hosts, same PostgreSQL 15
# server on loopback with its own data and socket folders (as in
# tests/integration/test_pgsql.sh). While each run goes, new files in /tmp
# and /var/tmp (outside this bench's own folder) are summed every 0.1 s:
# the peak is the remote temp space the method needs.
# Goals: wall time b/a <= 0.5 (medians); peak remote temp bytes of b = 0.
# Prints figures; not a test.
#
# Usage: bench/bench_pgsql.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_RUNS=N, default 3; BENCH_SCALE=pgbench scale, default 70 ~ 1 GB;
#        BENCH_DATA=md5 for SCALE*100000 rows of md5 hex text instead of
#        pgbench's tables, which gzip about 50:1)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-${BENCH_RUNS:-3}}
SCALE=${BENCH_SCALE:-70}
DB=benchdb
tb_require_binary
tb_require ssh ssh-keygen sshd sftp runuser pgbench
# shellcheck disable=SC2012
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || ! getent passwd postgres >/dev/null ||
	! command -v pg_dump >/dev/null; then
	echo "PostgreSQL server, client or the postgres user is missing" >&2
	exit 1
fi
tb_tmp
PG=$TMPD/pg
SAMPLER=
REMOTE_TMP=
pg_stop() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	[ -n "$REMOTE_TMP" ] && rm -f -- "$REMOTE_TMP"
	[ -f "$PG/data/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -m fast stop >/dev/null 2>&1
}
trap 'pg_stop; _tb_cleanup' EXIT
sshd_start

mkdir -p "$PG/sock"
chown -R postgres "$PG"
PGPORT=$(free_port)
asp() {
	runuser -u postgres -- "$@"
}
pq() {
	asp "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"
}
asp "$PGBIN/initdb" -D "$PG/data" -U postgres --auth-local=peer --auth-host=reject -E UTF8 \
	--locale=C.UTF-8 >"$PG/initdb.log" 2>&1 || { echo "initdb failed" >&2; exit 1; }
asp "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
	-o "-k $PG/sock -p $PGPORT -c listen_addresses= -c fsync=off -c max_wal_size=4GB" \
	start >/dev/null 2>&1 || { echo "postgres did not start: $(tail -20 "$PG/server.log")" >&2; exit 1; }
tb_track "$(head -n 1 "$PG/data/postmaster.pid")"

echo "building database $DB (${BENCH_DATA:-pgbench}, scale $SCALE) ..."
t0=$(date +%s.%N)
pq -d postgres -c "CREATE DATABASE $DB" >/dev/null || exit 1
if [ "${BENCH_DATA:-pgbench}" = md5 ]; then
	# Less compressible rows (hex text, about 2:1 under gzip): SCALE*100000
	# rows of ~140 bytes each.
	pq -d "$DB" >/dev/null <<EOF || { echo "building $DB failed" >&2; exit 1; }
CREATE TABLE rows (id int PRIMARY KEY, h text);
INSERT INTO rows SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 3)::text)
  FROM generate_series(1, $SCALE * 100000) g;
EOF
else
	asp pgbench -q -i -s "$SCALE" -h "$PG/sock" -p "$PGPORT" "$DB" >"$PG/pgbench.log" 2>&1 ||
		{ echo "pgbench failed: $(tail -5 "$PG/pgbench.log")" >&2; exit 1; }
fi
t1=$(date +%s.%N)
DBSIZE=$(pq -d postgres -c "SELECT pg_database_size('$DB')")
printf 'database %s: %d bytes (%s), built in %.0f s\n' "$DB" "$DBSIZE" \
	"$(pq -d postgres -c "SELECT pg_size_pretty(pg_database_size('$DB'))")" \
	"$(awk "BEGIN{print $t1-$t0}")"

SSH="$(ssh_cmd) -o LogLevel=error"
SFTP="sftp -i $CLIENT_KEY -P $SSHD_PORT -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=$KNOWN_HOSTS -o StrictHostKeyChecking=accept-new -o LogLevel=error"

cfg_global "$CONF"
cat >>"$CONF" <<EOF
[pgjob]
type = pgsql+ssh
server_name = 127.0.0.1
ssh_port = $SSHD_PORT
private_key = $CLIENT_KEY
known_hosts_file = $KNOWN_HOSTS
remote_user = root
db_host = $PG/sock
db_port = $PGPORT
db_name = $DB

EOF

# sample_tmp MARK OUT: every 0.1 s, sum the sizes of regular files in /tmp
# and /var/tmp (at most one folder down; lib.sh test folders /tmp/tbit.*,
# ours or a concurrent run's, are skipped) newer than MARK that belong to the dump: owned
# by postgres (the user pg_dump runs as on the server), or directly in the
# temp folder with a dump-like name (any owner). Other files are left out so
# that unrelated work on the machine (compilers, other checkouts) is not
# counted. The maximum goes to OUT, the files seen at that moment to OUT.files.
sample_tmp() {
	local mark=$1 out=$2 peak=0 s
	echo 0 >"$out"
	while :; do
		find /tmp /var/tmp -xdev -maxdepth 2 \( -path "$TMPD" -o -path '/tmp/tbit.*' \) -prune \
			-o -type f -newer "$mark" \
			\( -user postgres -o \( -path '/*tmp/*' ! -path '/*tmp/*/*' \
			\( -name "*$DB*" -o -name '*.sql*' -o -iname '*tisbackup*' -o -name '*pg_dump*' \) \) \) \
			-printf '%s %u %p\n' 2>/dev/null >"$out.now"
		s=$(awk '{t+=$1} END {print t+0}' "$out.now")
		if [ "$s" -gt "$peak" ]; then
			peak=$s
			echo "$peak" >"$out"
			mv -f "$out.now" "$out.files"
		fi
		sleep 0.1
	done
}
start_sampler() {
	touch "$TMPD/mark"
	sleep 0.01
	sample_tmp "$TMPD/mark" "$1" &
	SAMPLER=$!
}
stop_sampler() {
	sleep 0.2
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=
}

# (a) the original's way
run_orig() {
	REMOTE_TMP=/tmp/tbbench_${TB_ID}_$RANDOM.sql.gz
	$SSH root@127.0.0.1 "cd / && runuser -u postgres -- pg_dump -Z9 -h '$PG/sock' -p $PGPORT -f '$REMOTE_TMP' $DB" ||
		return 1
	echo "get $REMOTE_TMP $TMPD/orig.sql.gz" | $SFTP -b - root@127.0.0.1 >/dev/null || return 1
	$SSH root@127.0.0.1 "rm -f '$REMOTE_TMP'" || return 1
	REMOTE_TMP=
}
# (b) this driver
run_tb() {
	"$TISBACKUP" -c "$CONF" -l warning -s pgjob backup
}

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
max() {
	sort -g | tail -n 1
}

a_times=() b_times=() a_peaks=() b_peaks=()
for ((r = 1; r <= RUNS; r++)); do
	rm -f "$TMPD/orig.sql.gz"
	start_sampler "$TMPD/peak_a"
	t0=$(date +%s.%N)
	run_orig || { echo "original-way run failed" >&2; exit 1; }
	t1=$(date +%s.%N)
	stop_sampler
	a_times+=("$(awk "BEGIN{print $t1-$t0}")")
	a_peaks+=("$(cat "$TMPD/peak_a")")
	ASIZE=$(stat -c %s "$TMPD/orig.sql.gz")

	wait_next_second
	rm -rf "$BASE/pgjob"
	start_sampler "$TMPD/peak_b"
	t0=$(date +%s.%N)
	run_tb || { echo "tisbackup run failed" >&2; exit 1; }
	t1=$(date +%s.%N)
	stop_sampler
	b_times+=("$(awk "BEGIN{print $t1-$t0}")")
	b_peaks+=("$(cat "$TMPD/peak_b")")
	# Name what was seen, so a stray file from another process can be told apart.
	[ -s "$TMPD/peak_b.files" ] && sed 's/^/  (b) new temp file: /' "$TMPD/peak_b.files"
	rm -f "$TMPD/peak_b.files"
	BSIZE=$(find "$BASE/pgjob" -name '*.sql.gz' -printf '%s\n' | awk '{t+=$1} END {print t+0}')
	printf 'run %d: original %.2f s (peak temp %s B), tisbackup %.2f s (peak temp %s B)\n' \
		"$r" "${a_times[-1]}" "${a_peaks[-1]}" "${b_times[-1]}" "${b_peaks[-1]}"
done

M_A=$(printf '%s\n' "${a_times[@]}" | median)
M_B=$(printf '%s\n' "${b_times[@]}" | median)
P_A=$(printf '%s\n' "${a_peaks[@]}" | max)
P_B=$(printf '%s\n' "${b_peaks[@]}" | max)

echo
printf 'database size (pg_database_size): %d bytes (%.2f GiB)\n' "$DBSIZE" "$(awk "BEGIN{print $DBSIZE/1073741824}")"
printf 'dump size: original %d B, tisbackup %d B (gzip)\n' "$ASIZE" "$BSIZE"
printf 'runs:                             %d\n' "$RUNS"
printf '(a) pg_dump -Z9 + sftp + rm median: %.2f s\n' "$M_A"
printf '(b) tisbackup pgsql+ssh median:     %.2f s\n' "$M_B"
printf 'ratio b/a:                          %s (goal <= 0.5)\n' "$(awk "BEGIN{printf \"%.3f\", $M_B/$M_A}")"
printf 'peak remote temp bytes (a):         %s\n' "$P_A"
printf 'peak remote temp bytes (b):         %s (goal 0)\n' "$P_B"
