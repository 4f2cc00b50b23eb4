#!/usr/bin/env bash
#
# tisbackup restore against doing it by hand (issue 15), interleaved runs
# (a b a b ...) so that load from other work falls on both alike, medians:
#  - a PostgreSQL dump (pgsql+ssh backup of md5 rows, BENCH_PG_ROWS rows,
#    default 6 000 000 ~ 1 GiB of SQL): (a) `zcat DUMP | ssh HOST runuser
#    -u postgres -- psql` into a fresh database, (b) `tisbackup restore
#    --to-db NEW` (staging database, one transaction, rename). Goal: b/a
#    <= 1.05.
#  - a tree of BENCH_FILES files (default 50 000, 4 KiB each) in 500
#    folders, backed up with rsync+ssh: (a) a bare `rsync -a --numeric-ids
#    -H -e ssh SNAPSHOT/ host:DIR/` into an empty folder, (b) `tisbackup
#    restore --to host:DIR` into an empty folder. Goal: b/a <= 1.05.
# Same sshd, key and known_hosts for both (tests/integration/lib.sh).
# Prints figures; not a test.
#
# Usage: bench/bench_restore.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_RUNS=N, default 3; BENCH_PG_ROWS=N; BENCH_FILES=N;
#        BENCH_PARTS="pg files" (default both))

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

RUNS=${1:-${BENCH_RUNS:-3}}
PG_ROWS=${BENCH_PG_ROWS:-6000000}
FILES=${BENCH_FILES:-50000}
PARTS=${BENCH_PARTS:-pg files}
TISBACKUP=${TISBACKUP:-$here/../build/tisbackup}

tb_tmp
bench_cg_setup
sshd_start
cfg_global "$CONF"
echo "restore benchmark: $RUNS runs each, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- PostgreSQL
bench_pg() {
	if ! pg_find || ! pg_start; then
		echo "pg: PostgreSQL missing, not measured"
		return
	fi
	pq() { runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -At -v ON_ERROR_STOP=1 "$@"; }
	pq -d postgres -c "CREATE DATABASE src" >/dev/null
	pq -d src -c "CREATE TABLE r (id int PRIMARY KEY, h text);
		INSERT INTO r SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 3)::text) || md5((g * 5)::text)
		FROM generate_series(1, $PG_ROWS) g;" >/dev/null
	job_section "$CONF" pg "type = pgsql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = src" \
		"db_host = $PG/sock" "db_port = $PGPORT"
	"$TISBACKUP" -c "$CONF" -s pg backup >"$TMPD/pgbackup.log" 2>&1 || { tail -5 "$TMPD/pgbackup.log"; return; }
	local gz sqlbytes i wa=() wb=() ca=() cb=()
	gz=$(ls "$BASE"/pg/2*/src-*.sql.gz)
	sqlbytes=$(zcat "$gz" | wc -c)
	echo "pg: $PG_ROWS rows, $sqlbytes bytes of SQL, $(stat -c %s "$gz") bytes gzipped"
	by_hand() {
		zcat "$gz" | $(ssh_cmd) root@127.0.0.1 \
			"cd / && runuser -u postgres -- psql --no-psqlrc -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null -h $PG/sock -p $PGPORT -d $1 -f -"
	}
	for ((i = 1; i <= RUNS; i++)); do
		pq -d postgres -c "CREATE DATABASE a$i TEMPLATE template0" >/dev/null
		bench_measure by_hand "a$i"
		[ "$BM_RC" = 0 ] || bench_show_failure "zcat | ssh psql"
		wa+=("$BM_WALL") ca+=("$BM_CPU")
		bench_measure "$TISBACKUP" -c "$CONF" -s pg restore --to-db "b$i"
		[ "$BM_RC" = 0 ] || bench_show_failure "tisbackup restore"
		wb+=("$BM_WALL") cb+=("$BM_CPU")
		echo "  run $i: zcat|ssh psql ${wa[-1]} s, tisbackup restore ${wb[-1]} s"
		pq -d postgres -c "DROP DATABASE a$i" -c "DROP DATABASE b$i" >/dev/null
	done
	local ma mb
	ma=$(printf '%s\n' "${wa[@]}" | bench_median)
	mb=$(printf '%s\n' "${wb[@]}" | bench_median)
	bench_row "(a) zcat dump | ssh psql (median)" "$ma" "$(printf '%s\n' "${ca[@]}" | bench_median)"
	bench_row "(b) tisbackup restore --to-db (median)" "$mb" "$(printf '%s\n' "${cb[@]}" | bench_median)" "$ma"
}

# ---------------------------------------------------------------- files
bench_files() {
	local src=$TMPD/tree d i wa=() wb=() ca=() cb=() snap
	mkdir -p "$src"
	for ((d = 0; d < 500; d++)); do
		mkdir -p "$src/d$d"
		for ((i = 0; i < FILES / 500; i++)); do
			printf '%4096s' "$d.$i" >"$src/d$d/f$i"
		done
	done
	cfg_job "$CONF" files "$src"
	"$TISBACKUP" -c "$CONF" -s files backup >"$TMPD/fbackup.log" 2>&1 || { tail -5 "$TMPD/fbackup.log"; return; }
	snap=$BASE/files/$(snapshots "$BASE/files" | tail -n 1)
	echo "files: $(find "$snap" -type f | wc -l) files in $snap"
	for ((i = 1; i <= RUNS; i++)); do
		bench_measure rsync -a --numeric-ids -H -e "$(ssh_cmd)" "$snap/" "root@127.0.0.1:$TMPD/a$i/"
		[ "$BM_RC" = 0 ] || bench_show_failure "rsync push"
		wa+=("$BM_WALL") ca+=("$BM_CPU")
		bench_measure "$TISBACKUP" -c "$CONF" -s files restore --to "127.0.0.1:$TMPD/b$i"
		[ "$BM_RC" = 0 ] || bench_show_failure "tisbackup restore"
		wb+=("$BM_WALL") cb+=("$BM_CPU")
		echo "  run $i: rsync push ${wa[-1]} s, tisbackup restore ${wb[-1]} s"
		rm -rf "$TMPD/a$i" "$TMPD/b$i"
	done
	local ma mb
	ma=$(printf '%s\n' "${wa[@]}" | bench_median)
	mb=$(printf '%s\n' "${wb[@]}" | bench_median)
	bench_row "(a) rsync -a -H push over ssh (median)" "$ma" "$(printf '%s\n' "${ca[@]}" | bench_median)"
	bench_row "(b) tisbackup restore --to host:DIR (median)" "$mb" "$(printf '%s\n' "${cb[@]}" | bench_median)" "$ma"
}

for p in $PARTS; do
	case $p in
	pg) bench_pg ;;
	files) bench_files ;;
	esac
done
