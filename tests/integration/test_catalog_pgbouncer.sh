#!/usr/bin/env bash
#
# The PostgreSQL catalog through a real connection pooler (pgbouncer on
# loopback, lib.sh's pgbouncer_start; docs/catalog.md "Through a connection
# pooler"). In transaction pooling (each transaction may run on another
# server connection, two of them for every client) and in session pooling:
# backups of three jobs write their rows, checknagios and dumpstat read
# them, serve answers /api/v1/backups and sees each commit made before a
# request (the version probe and the count memo read the server's
# snapshot, not the session's), three backups at once upgrade an old
# schema (the advisory lock is a transaction's: exactly one upgrades),
# `catalog migrate` copies an SQLite catalog through pgbouncer's TCP port
# and a second run copies nothing. In transaction mode also: PostgreSQL
# stopped behind pgbouncer is exit 4 (UNKNOWN for checknagios) with a
# message naming [catalog] url and the pooler, and serve answers again
# once it is back. In statement pooling, where transactions cannot run, a
# read-write open says so and names the fix; a read-only check works.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require curl python3 sqlite3 rsync ssh ssh-keygen pgbouncer runuser
tb_tmp
sshd_start
SRC=$TMPD/src
mkdir -p "$SRC"
printf 'one\n' >"$SRC/a"
pg_start || t_bail "PostgreSQL did not start"

SECRET="tbpgb-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
psql_su -d postgres -c "CREATE ROLE tbcat LOGIN PASSWORD '$SECRET'" || t_bail "cannot create the role"
PWFILE=$TMPD/catalog.pw
(umask 077 && printf '%s\n' "$SECRET" >"$PWFILE")

# An SQLite catalog to migrate: one real run and 60 rows more.
CONFS=$TMPD/sqlite.ini
BASES=$TMPD/bases
mkdir -p "$BASES"
{
	echo "[global]"
	echo "backup_base_dir = $BASES"
	echo "backup_retention_time = 30"
	echo "maximum_backup_age = 30"
	echo
} >"$CONFS"
cfg_job "$CONFS" delta "$SRC"
tb_run -c "$CONFS" backup
t_rc 0 "a backup into an SQLite catalog (the migration's source)"
DBS=$BASES/log/tisbackup.sqlite
sql "$DBS" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
	INSERT INTO stats (backup_name, server_name, backup_start, backup_end, backup_duration,
	total_bytes, status, log, backup_location, TYPE)
	SELECT 'old' || (i % 4), 'srv', printf('2025-01-01 00:%02d:00', i),
	printf('2025-01-01 00:%02d:30', i), 0.01, i, 'OK', 'log ' || i, '/b/' || i, 'BACKUP' FROM n"

# mode_checks MODE: a database of its own, pgbouncer restarted in pool_mode
# MODE, $CONF pointing at it through its socket; the checks every mode
# that runs transactions must pass.
mode_checks() {
	local mode=$1 db=cat_$1 i r stale
	cq() { psql_su -d "$db" -c "$1"; }
	psql_su -d postgres -c "CREATE DATABASE $db OWNER tbcat" || t_bail "cannot create $db"
	pgbouncer_stop
	pgbouncer_start "$mode" tbcat || t_bail "pgbouncer ($mode) did not start"
	URL="postgresql://tbcat@/$db?host=$PGB/sock&port=$PGB_PORT"
	TCPURL="postgresql://tbcat@127.0.0.1:$PGB_PORT/$db?password_file=$PWFILE"
	CONF=$TMPD/$mode.ini
	BASE=$TMPD/base-$mode
	mkdir -p "$BASE"
	cfg_global "$CONF"
	printf '[catalog]\nurl = %s\npassword_file = %s\n\n' "$URL" "$PWFILE" >>"$CONF"
	for j in alpha beta gamma; do cfg_job "$CONF" "$j" "$SRC"; done

	tb_run -c "$CONF" backup
	t_rc 0 "$mode: backup of three rsync+ssh jobs through pgbouncer"
	t_eq "alpha|OK
beta|OK
gamma|OK" "$(cq "SELECT backup_name, status FROM stats ORDER BY backup_name")" \
		"$mode: one OK row per job, written through pgbouncer"
	t_eq "catalog|1 run_host|1 stats_indexes|2" \
		"$(cq "SELECT part || '|' || version FROM schema_versions ORDER BY part" | tr '\n' ' ' | sed 's/ $//')" \
		"$mode: the schema made through pgbouncer"
	tb_run -c "$CONF" checknagios
	t_rc 0 "$mode: checknagios through pgbouncer"
	t_match '^ALL backups OK' "$T_OUT" "$mode: checknagios: all OK"
	tb_run -c "$CONF" dumpstat
	t_rc 0 "$mode: dumpstat through pgbouncer"
	t_match 'gamma' "$T_OUT" "$mode: dumpstat lists gamma"

	web_config
	[ -s "$TMPD/users" ] || web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
	web_start
	JAR=$TMPD/jar-$mode
	web_login alice alice-pw-1 "$JAR"
	r=$(hcurl -b "$JAR" "$WEB/api/v1/backups")
	t_eq "200 3" "$(st_of "$r") $(body_of "$r" | jq_py 'd["total"]')" \
		"$mode: serve's /api/v1/backups through pgbouncer: the three rows"
	# Each answer sees every commit made before it was asked, though the
	# statements of one process run on any of the pool's connections.
	stale=0
	for ((i = 1; i <= 6; i++)); do
		cq "INSERT INTO stats (backup_name, backup_start, backup_end, status, type) VALUES
			('alpha', '2026-01-02 00:00:0$i', '2026-01-02 00:00:09', 'OK', 'BACKUP')" >/dev/null
		stale=$((stale + $(stale_answers 4 "$WEB/api/v1/backups?limit=1&job=alpha" 'd["total"]' $((1 + i)))))
	done
	t_eq 0 "$stale" "$mode: 24 requests, 4 at a time after each of 6 commits: none misses a commit"
	tb_run -c "$CONF" checknagios
	t_rc 0 "$mode: checknagios while serve is connected"

	# An old schema (before stats_indexes), three backups at once: the
	# advisory lock (a transaction's) lets exactly one upgrade it.
	cq "DROP INDEX idx_stats_type_start; DROP INDEX idx_stats_type_status_start;
		CREATE INDEX idx_stats_backup_name ON stats (backup_name);
		DELETE FROM schema_versions WHERE part = 'stats_indexes'" >/dev/null
	pids=()
	for j in alpha beta gamma; do
		timeout -k 5 300 "$TISBACKUP" -c "$CONF" -s "$j" backup >"$TMPD/up.$j.out" 2>"$TMPD/up.$j.err" </dev/null &
		pids+=($!)
	done
	r=0
	for i in "${pids[@]}"; do wait "$i" || r=$((r + 1)); done
	t_eq 0 "$r" "$mode: three backups at once on an old schema all exit 0"
	t_eq "2|0|2" "$(cq "SELECT (SELECT version FROM schema_versions WHERE part = 'stats_indexes'),
		(SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_stats_backup_name'),
		(SELECT count(*) FROM pg_indexes WHERE indexname IN ('idx_stats_type_start',
			'idx_stats_type_status_start'))")" "$mode: the schema upgraded (stats_indexes 2)"
	t_eq 1 "$(cat "$TMPD"/up.*.out "$TMPD"/up.*.err | grep -c 'schema upgraded (stats_indexes 0 -> 2')" \
		"$mode: exactly one of them upgraded it"

	tb_run catalog migrate --from "sqlite:$DBS" --to "$TCPURL"
	t_rc 0 "$mode: catalog migrate sqlite -> pgbouncer's TCP port (scram)"
	t_match "61 source rows, 61 copied, 0 already there; 1 run hosts; verified" "$T_OUT" \
		"$mode: migrate: counts verified"
	tb_run catalog migrate --from "sqlite:$DBS" --to "$TCPURL"
	t_rc 0 "$mode: catalog migrate a second time"
	t_match "61 source rows, 0 copied, 61 already there; 1 run hosts; verified" "$T_OUT" \
		"$mode: the second run copies nothing"
	t_eq 61 "$(cq "SELECT count(*) FROM stats WHERE backup_name = 'delta' OR backup_name LIKE 'old%'")" \
		"$mode: the 61 rows copied once"
}

# ================================================================ transaction
# Two server connections for every client: a process's statements land
# on either. Quick retries of the server login (the restart below).
PGB_SETTINGS="default_pool_size = 2
query_wait_timeout = 10
server_login_retry = 1"
mode_checks transaction
t_eq 2 "$(pgbouncer_admin "SHOW SERVERS" | grep -c "|cat_transaction|")" \
	"transaction: the clients shared the pool's two server connections"

# PostgreSQL stopped behind pgbouncer.
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -m fast -w stop >/dev/null ||
	t_bail "pg_ctl stop failed"
tb_run -c "$CONF" checknagios
t_rc 3 "transaction: checknagios with PostgreSQL down behind pgbouncer: UNKNOWN"
t_match "^UNKNOWN : cannot read the catalog: catalog postgresql://tbcat@$PGB/sock:$PGB_PORT/cat_transaction" \
	"$T_OUT" "transaction: checknagios names the catalog"
t_match 'connection pooler at \[catalog\] url' "$T_OUT" "transaction: ... and the pooler"
tb_run -c "$CONF" backup
t_rc 4 "transaction: backup with PostgreSQL down behind pgbouncer: exit 4"
t_match 'connection pooler at \[catalog\] url (cannot reach PostgreSQL|got no PostgreSQL connection)' \
	"$T_ERR" "transaction: the message names [catalog] url, the pooler and what to check"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
	-o "-k $PG/sock -p $PGPORT -c listen_addresses=" start >/dev/null 2>&1 ||
	t_bail "postgres did not restart"
tb_track "$(head -n 1 "$PG/data/postmaster.pid")"
psql_su -d cat_transaction -c "INSERT INTO stats (backup_name, backup_start, backup_end, status, type)
	VALUES ('beta', '2026-01-03 00:00:00', '2026-01-03 00:00:01', 'OK', 'BACKUP')" >/dev/null
# pgbouncer logs in again after server_login_retry: the first request may
# still be refused.
beta_total() { hcurl -b "$JAR" "$WEB/api/v1/backups?job=beta&limit=1" | tail -n +2 | jq_py 'd["total"]' 2>/dev/null; }
wait_until 60 eval '[ "$(beta_total)" = 3 ]'
t_eq 3 "$(beta_total)" "transaction: serve answers again once PostgreSQL is back, with the row written after"
web_stop

# ================================================================ session
PGB_SETTINGS="default_pool_size = 8"
mode_checks session
web_stop

# ================================================================ statement
# shellcheck disable=SC2034 # read by pgbouncer_start
PGB_SETTINGS=
pgbouncer_stop
pgbouncer_start statement tbcat || t_bail "pgbouncer (statement) did not start"
sed -i "s|^url = .*|url = postgresql://tbcat@/cat_session?host=$PGB/sock\&port=$PGB_PORT|" "$CONF"
tb_run -c "$CONF" backup
t_rc 4 "statement: backup (a read-write open) refused: exit 4"
t_match 'transaction blocks not allowed in statement pooling mode; \[catalog\] url points at a connection pooler in statement mode \(pgbouncer pool_mode = statement\).*point it at a pool in transaction or session mode' \
	"$T_ERR" "statement: the message says why and names the fix"
t_nomatch 'connection lost, reconnecting' "$T_ERR" "statement: no reconnection tried (the pooler would refuse again)"
tb_run -c "$CONF" checknagios
t_rc 0 "statement: checknagios (read-only, one statement at a time) works"
t_match '^ALL backups OK' "$T_OUT" "statement: checknagios: all OK"

t_done
