#!/usr/bin/env bash
#
# The PostgreSQL catalog ([catalog] url = postgresql://..., docs/catalog.md)
# against a real server on its socket, with password authentication: a
# backup writes its rows there (no SQLite file), checknagios, dumpstat and
# the web API read them; the server down is exit 4 with a clear message;
# serve reconnects after a restart; cleanup checks the log folder's disk
# (full: file logging skipped); the password is in no argv or
# environment of any process, sampled from /proc the whole time.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require curl python3 sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start
SRC=$TMPD/src
mkdir -p "$SRC"
printf 'one\n' >"$SRC/a"
pg_start || t_bail "PostgreSQL did not start"

cq() { psql_su -d tisbackup -c "$1"; }

# A password nobody would type, the sentinel looked for in /proc.
SECRET="tbpg-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$SECRET" >"$TMPD/sentinel"
psql_su -d postgres -c "CREATE ROLE tbcat LOGIN PASSWORD '$SECRET'" ||
	t_bail "cannot create the role"
psql_su -d postgres -c "CREATE DATABASE tisbackup OWNER tbcat" || t_bail "cannot create the db"
# The role logs in by password only (scram), before the peer lines.
{
	echo "local tisbackup tbcat scram-sha-256"
	cat "$PG/data/pg_hba.conf"
} >"$PG/hba.new" && mv "$PG/hba.new" "$PG/data/pg_hba.conf"
chown postgres "$PG/data/pg_hba.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" reload >/dev/null ||
	t_bail "pg_ctl reload failed"

PWFILE=$TMPD/catalog.pw
(umask 077 && printf '%s\n' "$SECRET" >"$PWFILE")
URL="postgresql://tbcat@/tisbackup?host=$PG/sock&port=$PGPORT"
cfg_global "$CONF"
{
	echo "[catalog]"
	echo "url = $URL"
	echo "password_file = $PWFILE"
	echo
} >>"$CONF"
cfg_job "$CONF" alpha "$SRC"
cfg_job "$CONF" beta "$SRC"

# Sample every process's argv and environment until told to stop.
sampler() {
	while [ ! -e "$TMPD/stop-sampling" ]; do
		for f in $(grep -laF -f "$TMPD/sentinel" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null); do
			echo "$f"
			# What showed it, the password masked (for the failure's diagnostics).
			tr '\0' ' ' <"$f" | sed "s/$SECRET/<password>/g" | head -c 300 >>"$TMPD/hitwho"
			echo >>"$TMPD/hitwho"
		done
		echo scan >>"$TMPD/scans"
	done >"$TMPD/hits"
}
# Control: the scan does see a password shown in an argv.
# (bash, not an interpreter through a shim that may start slowly on a busy machine;
# the password stays in bash's own argv, not its child sleep's)
/bin/bash -c 'sleep 120; :' control "$SECRET" &
CONTROL=$!
wait_until 60 grep -qaF -f "$TMPD/sentinel" "/proc/$CONTROL/cmdline"
t_match "^/proc/$CONTROL/cmdline\$" \
	"$(grep -laF -f "$TMPD/sentinel" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null)" \
	"control: the /proc scan sees a password in an argv"
pkill -P "$CONTROL" sleep 2>/dev/null
kill "$CONTROL"
wait "$CONTROL" 2>/dev/null
sampler &
SAMPLER=$!
tb_track "$SAMPLER"

# ================================================================ backup
tb_run -c "$CONF" backup
t_rc 0 "backup of two rsync+ssh jobs into the PostgreSQL catalog"
t_eq "alpha|OK|BACKUP
beta|OK|BACKUP" "$(cq "SELECT backup_name, status, type FROM stats ORDER BY backup_name")" \
	"one OK BACKUP row per job in stats"
t_not "no SQLite catalog written" test -e "$BASE/log/tisbackup.sqlite"
t_eq "1" "$(cq "SELECT version FROM schema_versions WHERE part = 'catalog'")" \
	"schema_versions records the schema"
t_eq "0" "$(cq "SELECT count(*) FROM stats WHERE backup_end IS NULL OR backup_duration IS NULL")" \
	"rows finished: backup_end and backup_duration set"

HOST=$(hostname)
t_eq "1" "$(cq "SELECT version FROM schema_versions WHERE part = 'run_host'")" \
	"schema_versions records run_host"
t_eq "alpha|$HOST|||$(realpath "$CONF")
beta|$HOST|||$(realpath "$CONF")" \
	"$(cq "SELECT s.backup_name, h.host, h.worker, h.pool, h.config FROM stats s
		JOIN run_host h ON h.stats_id = s.rowid ORDER BY s.backup_name")" \
	"run_host: each cron-style run's host and configuration file, no worker"

tb_run -c "$CONF" backup
t_rc 0 "a second backup (schema already there)"
t_eq "4" "$(cq "SELECT count(*) FROM stats")" "four rows"

# ================================================================ reads
tb_run -c "$CONF" checknagios
t_rc 0 "checknagios reads the PostgreSQL catalog"
t_match '^ALL backups OK' "$T_OUT" "checknagios: all OK"

tb_run -c "$CONF" dumpstat
t_rc 0 "dumpstat reads the PostgreSQL catalog"
t_match 'alpha' "$T_OUT" "dumpstat lists alpha"
t_match 'beta' "$T_OUT" "dumpstat lists beta"

web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
JAR=$TMPD/jar
web_login alice alice-pw-1 "$JAR"
q() { curl -s -b "$JAR" "$WEB/api/v1/backups?$1"; }
r=$(hcurl -b "$JAR" "$WEB/api/v1/backups")
t_eq 200 "$(st_of "$r")" "GET /api/v1/backups answers"
t_eq '4 4' "$(body_of "$r" | jq_py 'str(d["total"])+" "+str(len(d["items"]))')" \
	"/api/v1/backups lists the four rows"
t_eq '1 2' "$(q 'job=alpha&limit=1' | jq_py 'str(len(d["items"]))+" "+str(d["total"])')" \
	"/api/v1/backups: job filter, limit, total"
# Keyset paging (next / after=) on PostgreSQL: rows with equal and NULL
# starts, walked two a page while a newer row is added: the rows of the
# list as it was, each once, in order; a bad cursor is a 400 naming after.
cq "INSERT INTO stats (backup_name, server_name, backup_start, status, type) VALUES
  ('w1', 's', '2021-01-01T00:00:00.000000', 'WALK', 'BACKUP'),
  ('w2', 's', '2021-01-01T00:00:00.000000', 'WALK', 'BACKUP'),
  ('w3', 's', '2021-01-01T00:00:00.000000', 'WALK', 'BACKUP'),
  ('w4', 's', '2021-01-02T00:00:00.000000', 'WALK', 'BACKUP'),
  ('w5', 's', '2020-12-31T00:00:00.000000', 'WALK', 'BACKUP'),
  ('w6', 's', NULL, 'WALK', 'BACKUP'), ('w7', 's', NULL, 'WALK', 'BACKUP'),
  ('w8', 's', NULL, 'WALK', 'BACKUP')"
add_walk_row() {
	cq "INSERT INTO stats (backup_name, server_name, backup_start, status, type)
	  VALUES ('w9', 's', '2021-02-01T00:00:00.000000', 'WALK', 'BACKUP')"
}
backups_walk q 'status=WALK&limit=2' "$TMPD/walked" add_walk_row
t_eq 'w4 w3 w2 w1 w5 w8 w7 w6' "$(cut -d' ' -f1 "$TMPD/walked" | xargs)" \
	"/api/v1/backups walked by next cursor: every row once, newest first, equal starts by rowid, NULL starts last, the row added meanwhile not"
backups_walk q 'status=WALK&limit=1' "$TMPD/walked"
t_eq 'w9 w4 w3 w2 w1 w5 w8 w7 w6' "$(cut -d' ' -f1 "$TMPD/walked" | xargs)" "... and one row a page: all, the new one first"
t_eq "$(q 'status=WALK' | jq_py '"\n".join(i["backup_name"]+" "+str(i["backup_start"])+" "+i["status"] for i in d["items"])')" \
	"$(cat "$TMPD/walked")" "... the same items as one page"
r=$(hcurl -b "$JAR" "$WEB/api/v1/backups?after=7.4g")
t_eq "400 after" "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "a bad cursor: 400 naming after"
cq "DELETE FROM stats WHERE status = 'WALK'"
t_eq 4 "$(q '' | jq_py 'd["total"]')" "the walk's rows gone again"
r=$(hcurl -b "$JAR" "$WEB/api/v1/jobs/beta")
t_eq '2 OK' "$(body_of "$r" | jq_py 'str(len(d["history"]))+" "+d["history"][-1]["status"]')" \
	"/api/v1/jobs/NAME: the job's history"
r=$(hcurl -b "$JAR" "$WEB/api/v1/fleet")
t_eq "alpha $HOST None|beta $HOST None" \
	"$(body_of "$r" | jq_py "'|'.join(j['name']+' '+str(j['host'])+' '+str(j['worker']) for j in d['items'])")" \
	"/api/v1/fleet: the host of each job's last backup, run from cron"

# ================================================================ migrate
# An SQLite catalog of another base: two real runs, then 300 rows more
# (one a duplicate of another, NULLs in the numbers).
CONF2=$TMPD/sqlite.ini
BASE2=$TMPD/base2
mkdir -p "$BASE2"
{
	echo "[global]"
	echo "backup_base_dir = $BASE2"
	echo "backup_retention_time = 30"
	echo "maximum_backup_age = 30"
	echo
} >"$CONF2"
cfg_job "$CONF2" gamma "$SRC"
tb_run -c "$CONF2" backup
t_rc 0 "a backup into an SQLite catalog"
DB2=$BASE2/log/tisbackup.sqlite
sqlite3 "$DB2" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 299)
	INSERT INTO stats (backup_name, server_name, backup_start, backup_end, backup_duration,
	total_bytes, status, log, backup_location, TYPE)
	SELECT 'job' || (i % 7), 'srv', printf('2025-01-01 %02d:%02d:00', i / 60, i % 60),
	printf('2025-01-01 %02d:%02d:30', i / 60, i % 60), 0.01, CASE WHEN i % 3 = 0 THEN NULL ELSE i END,
	CASE WHEN i % 10 = 0 THEN 'ERROR' ELSE 'OK' END, 'log ' || i, '/b/' || i, 'BACKUP' FROM n;
	INSERT INTO stats (backup_name, backup_start, status, TYPE)
	VALUES ('dup', '2025-02-01 00:00:00', 'OK', 'BACKUP'), ('dup', '2025-02-01 00:00:00', 'OK', 'BACKUP');"
NSRC=$(sql "$DB2" "SELECT count(*) FROM stats")
t_eq 302 "$NSRC" "the SQLite catalog has 302 rows"
MURL="$URL&password_file=$PWFILE"
tb_run catalog migrate --from "sqlite:$DB2" --to "$MURL"
t_rc 0 "catalog migrate sqlite -> postgresql"
t_match "302 source rows, 302 copied, 0 already there; 1 run hosts; verified" "$T_OUT" "migrate: counts verified"
t_eq 306 "$(cq "SELECT count(*) FROM stats")" "PostgreSQL: its 4 rows and the 302 copied"
t_eq t "$(cq "SELECT reltuples >= 306 FROM pg_class WHERE relname = 'stats'")" \
	"migrate refreshed the planner statistics (ANALYZE): checknagios' reads use the job index at once"
t_eq "gamma|$HOST|$(realpath "$CONF2")" \
	"$(cq "SELECT s.backup_name, h.host, h.config FROM stats s JOIN run_host h ON h.stats_id = s.rowid
		WHERE s.backup_name = 'gamma'")" \
	"migrate: gamma's run_host row follows its stats row (a new rowid)"
tb_run catalog migrate --from "sqlite:$DB2" --to "$MURL"
t_rc 0 "catalog migrate a second time"
t_match "302 source rows, 0 copied, 302 already there; 1 run hosts; verified" "$T_OUT" "the second run copies nothing"
t_eq 1 "$(cq "SELECT count(*) FROM run_host h JOIN stats s ON h.stats_id = s.rowid WHERE s.backup_name = 'gamma'")" \
	"still one run_host row for gamma"
t_eq 306 "$(cq "SELECT count(*) FROM stats")" "PostgreSQL: still 306 rows"
t_eq 2 "$(cq "SELECT count(*) FROM stats WHERE backup_name = 'dup'")" "the duplicate row kept twice"
t_eq "$(sql "$DB2" "SELECT sum(total_bytes), count(total_bytes), sum(backup_duration IS NULL) FROM stats WHERE backup_name LIKE 'job%'")" \
	"$(cq "SELECT sum(total_bytes), count(total_bytes), sum((backup_duration IS NULL)::int) FROM stats WHERE backup_name LIKE 'job%'")" \
	"numbers and NULLs copied as they were"
tb_run -c "$CONF" -s alpha checknagios
t_rc 0 "checknagios after the migration"
# A catalog made before run_host (its part 'catalog' only): read-only
# opens leave it so, the next read-write open migrates it.
cq "DROP TABLE run_host; DELETE FROM schema_versions WHERE part = 'run_host'" >/dev/null
tb_run -c "$CONF" -s alpha checknagios
t_rc 0 "checknagios on a catalog without run_host"
t_eq "f" "$(cq "SELECT to_regclass('run_host') IS NOT NULL")" "checknagios created no run_host"
tb_run -c "$CONF" -s alpha backup
t_rc 0 "a backup on a catalog without run_host"
t_eq "1|1" "$(cq "SELECT (SELECT version FROM schema_versions WHERE part = 'run_host'),
	(SELECT count(*) FROM run_host)")" "the backup's open migrated it and recorded its run"
# A catalog made before part 'stats_indexes' (with idx_stats_backup_name):
# checknagios reads it as it is, the next backup drops the index.
cq "CREATE INDEX idx_stats_backup_name ON stats (backup_name);
	DELETE FROM schema_versions WHERE part = 'stats_indexes'" >/dev/null
tb_run -c "$CONF" -s alpha checknagios
t_rc 0 "checknagios on a catalog with idx_stats_backup_name"
t_eq "0|1" "$(cq "SELECT (SELECT count(*) FROM schema_versions WHERE part = 'stats_indexes'),
	(SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_stats_backup_name')")" \
	"checknagios (read-only) left the schema as it was"
tb_run -c "$CONF" -s alpha backup
t_rc 0 "a backup on a catalog with idx_stats_backup_name"
t_eq "2|0|1|2" "$(cq "SELECT (SELECT version FROM schema_versions WHERE part = 'stats_indexes'),
	(SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_stats_backup_name'),
	(SELECT version FROM schema_versions WHERE part = 'catalog'),
	(SELECT count(*) FROM pg_indexes WHERE indexname IN ('idx_stats_type_start',
		'idx_stats_type_status_start'))")" \
	"the backup's open dropped the redundant index and made the list indexes (stats_indexes 2), part catalog stays 1"
# A catalog at stats_indexes 1 (without the list indexes): the next
# read-write open makes them.
cq "DROP INDEX idx_stats_type_start; DROP INDEX idx_stats_type_status_start;
	UPDATE schema_versions SET version = 1 WHERE part = 'stats_indexes'" >/dev/null
tb_run -c "$CONF" -s alpha backup
t_rc 0 "a backup on a catalog at stats_indexes 1"
t_eq "2|2" "$(cq "SELECT (SELECT version FROM schema_versions WHERE part = 'stats_indexes'),
	(SELECT count(*) FROM pg_indexes WHERE indexname IN ('idx_stats_type_start',
		'idx_stats_type_status_start'))")" "its open made the list indexes (stats_indexes 1 -> 2)"
t_match 'schema upgraded \(stats_indexes 1 -> 2: the list indexes made\)' "$T_OUT$T_ERR" \
	"the upgrade is logged"
tb_run catalog migrate --from "sqlite:$DB2"
t_rc 2 "catalog migrate without --to: usage error"
tb_run catalog migrate --from "sqlite:$TMPD/none.sqlite" --to "$MURL"
t_rc 4 "catalog migrate from a missing catalog: exit 4"

# ================================================================ server down
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -m fast -w stop >/dev/null ||
	t_bail "pg_ctl stop failed"
tb_run -c "$CONF" backup
t_rc 4 "backup with the server down: exit 4"
t_match 'cannot connect to PostgreSQL' "$T_ERR" "the message says the server cannot be reached"
t_match "postgresql://tbcat@$PG/sock:$PGPORT/tisbackup" "$T_ERR" "the message names the catalog"
tb_run -c "$CONF" checknagios
t_rc 3 "checknagios with the server down: UNKNOWN"
t_match '^UNKNOWN : cannot read the catalog' "$T_OUT" "checknagios says why"

# ================================================================ reconnect
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
	-o "-k $PG/sock -p $PGPORT -c listen_addresses=" start >/dev/null 2>&1 ||
	t_bail "postgres did not restart"
tb_track "$(head -n 1 "$PG/data/postmaster.pid")"
cq "INSERT INTO stats (backup_name, backup_start, backup_end, status, type) VALUES
	('alpha', '2026-01-01 00:00:00', '2026-01-01 00:00:01', 'OK', 'BACKUP')" >/dev/null
r=$(hcurl -b "$JAR" "$WEB/api/v1/backups")
t_eq 200 "$(st_of "$r")" "serve answers after the server restarted (reconnected)"
# 306, the run_host backup's, the two stats_indexes backups', the one inserted now
t_eq 310 "$(body_of "$r" | jq_py 'd["total"]')" \
	"/api/v1/backups sees the row written after the restart"
t_match 'connection lost, reconnecting' "$(cat "$TMPD/serve.err" "$TMPD/serve.out")" \
	"serve logs the reconnection"
# Requests share the catalog's version probes (server.c catalog_state):
# whatever they share, every answer must see each commit made before it
# was asked. 8 requests at once after each of 12 commits. They also share
# the build of the answer (server.c req_cache_get, single flight): one
# request reads the catalog, the others wait for it and send its body.
# /metrics after each round is built anew (the commit changed the state).
stale=0 herd=0
read -r b0 s0 h0 < <(cache_counts "$JAR" backups)
for ((i = 1; i <= 12; i++)); do
	cq "INSERT INTO stats (backup_name, backup_start, backup_end, status, type) VALUES
		('alpha', '2026-01-02 00:00:00', '2026-01-02 00:00:01', 'OK', 'BACKUP')" >/dev/null
	stale=$((stale + $(stale_answers 8 "$WEB/api/v1/backups?limit=1" 'd["total"]' $((310 + i)))))
	read -r b1 s1 h1 < <(cache_counts "$JAR" backups)
	if [ "$((b1 - b0))" != 1 ] || [ "$((s1 - s0 + h1 - h0))" != 7 ]; then
		herd=$((herd + 1))
		t_diag "round $i: $((b1 - b0)) builds, $((s1 - s0)) shared, $((h1 - h0)) hits"
	fi
	b0=$b1 s0=$s1 h0=$h1
done
t_eq 0 "$stale" "96 requests, 8 at a time after each of 12 commits: none answers without the commit"
t_eq 0 "$herd" "each round of 8 built the answer once (1 build, the 7 others shared it or hit the cache)"
web_stop

# ================================================================ cleanup on a full log disk
# The log folder's filesystem is checked, not a folder made of the URL.
FULL=$TMPD/full
if ! command -v mkfs.ext4 >/dev/null || ! command -v setpriv >/dev/null ||
	! loop_mount "$TMPD/full.img" "$FULL" 16; then
	t_skip "full log disk" "cannot loop-mount an ext4 image here"
else
	CONF3=$TMPD/full.ini
	sed "s|^backup_base_dir = .*|backup_base_dir = $FULL/base|" "$CONF" >"$CONF3"
	mkdir -p "$FULL/base/log" "$FULL/user" && chown 65534:65534 "$FULL/user"
	for bs in 64k 1k; do
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			dd if=/dev/zero of="$FULL/user/fill$bs" bs=$bs 2>/dev/null
	done
	tb_run -c "$CONF3" cleanup
	t_rc 0 "full log disk: cleanup with the PostgreSQL catalog exits 0"
	t_match "WARNING cleanup: the disk holding $FULL/base/log is full: file logging skipped" \
		"$T_ERR" "full log disk: the PostgreSQL catalog's cleanup warns too"
fi

# ================================================================ secrets
touch "$TMPD/stop-sampling"
wait "$SAMPLER"
t_num_ge 3 "$(wc -l <"$TMPD/scans")" "argv/environ of every process sampled during the runs"
t_eq "" "$(sort -u "$TMPD/hits")" "the password in no process's argv or environment"
[ -s "$TMPD/hitwho" ] && t_diag "shown by: $(sort -u "$TMPD/hitwho")"
t_not "the password in no output or log" grep -rqF -f "$TMPD/sentinel" "$BASE" "$TMPD/serve.err" \
	"$TMPD/serve.out"

t_done
