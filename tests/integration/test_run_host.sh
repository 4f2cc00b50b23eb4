#!/usr/bin/env bash
#
# Where each run ran (the run_host side table, docs/catalog.md), SQLite
# catalog: a catalog made by the original TISBackup (stats only) is read
# by checknagios without being changed, also by a user who cannot write
# it; a cron-style `tisbackup backup` (not through the queue) migrates
# it, records this host and the configuration file of each run, leaves
# the stats schema and the old rows as they were; /api/v1/fleet shows the
# host of every job's last backup (null for a row older than run_host).
# The PostgreSQL side is in test_catalog_pg.sh.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require curl python3 sqlite3 rsync ssh ssh-keygen setpriv
tb_tmp
sshd_start
SRC=$TMPD/src
mkdir -p "$SRC"
printf 'one\n' >"$SRC/a"
HOST=$(hostname)

# What the original creates (its BackupStat.initdb()): stats and its indexes, nothing else.
mkdir -p "$BASE/log"
sqlite3 "$CATALOG" "CREATE TABLE stats (backup_name TEXT, server_name TEXT, description TEXT,
	backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT,
	written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT,
	backup_location TEXT, TYPE TEXT);
create index idx_stats_backup_name on stats(backup_name);
create index idx_stats_backup_location on stats(backup_location);
CREATE INDEX idx_stats_backup_name_start on stats(backup_name,backup_start);"
NOW=$(date '+%Y-%m-%d %H:%M:%S')
OLDLOC=$BASE/oldjob/legacy
mkdir -p "$OLDLOC"
sql "$CATALOG" "INSERT INTO stats (backup_name, server_name, description, backup_start,
	backup_end, backup_duration, status, log, backup_location, TYPE) VALUES
	('oldjob', '127.0.0.1', '', '$NOW', '$NOW', 0.001, 'OK', '', '$OLDLOC', 'BACKUP')"
SCHEMA_BEFORE=$(sqlite3 "$CATALOG" .schema)
ROWS_BEFORE=$(sql "$CATALOG" "SELECT * FROM stats")

cfg_global "$CONF"
cfg_job "$CONF" oldjob "$SRC"
cfg_job "$CONF" alpha "$SRC"
cfg_job "$CONF" beta "$SRC"

# ================================================================ read-only, before any run
chmod 0644 "$CATALOG" "$CONF"
chmod 0755 "$BASE" "$BASE/log"
SUM_BEFORE=$(sha256sum <"$CATALOG")
tb_run -c "$CONF" -s oldjob checknagios
t_rc 0 "checknagios on the original's catalog: OK"
t_eq "$SUM_BEFORE" "$(sha256sum <"$CATALOG")" "checknagios changed nothing in the file"
t_eq "$SCHEMA_BEFORE" "$(sqlite3 "$CATALOG" .schema)" "checknagios created no table"
# A user who cannot write the catalog (nor its folder): nothing to migrate, nothing fails.
# (A coverage build's profile data would be written where uid 65534 cannot:
# GCOV_PREFIX sends it to a folder of its own.)
mkdir -p "$TMPD/gcov" && chmod 0777 "$TMPD/gcov"
NOBODY_OUT=$(GCOV_PREFIX=$TMPD/gcov setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$TISBACKUP" -c "$CONF" -s oldjob checknagios 2>"$TMPD/nobody.err")
t_eq 0 "$?" "checknagios on a catalog it cannot write: exit 0 ($(head -c 300 "$TMPD/nobody.err" | tr '\n' ' '))"
t_match '^ALL backups OK' "$NOBODY_OUT" "checknagios as a reader only: all OK"

# ================================================================ cron-style run
tb_run -c "$CONF" backup
t_rc 0 "tisbackup backup, started directly (not through the queue)"
t_eq "1" "$(sql "$CATALOG" "SELECT version FROM schema_versions WHERE part = 'run_host'")" \
	"the run migrated the catalog: schema_versions records run_host"
t_eq "$SCHEMA_BEFORE" "$(sqlite3 "$CATALOG" '.schema stats')" "stats and its indexes unchanged"
t_eq "$ROWS_BEFORE" "$(sql "$CATALOG" "SELECT * FROM stats WHERE backup_name = 'oldjob' AND backup_location = '$OLDLOC'")" \
	"the original's row unchanged"
REALCONF=$(realpath "$CONF")
t_eq "alpha|$HOST|||$REALCONF
beta|$HOST|||$REALCONF
oldjob|$HOST|||$REALCONF" \
	"$(sql "$CATALOG" "SELECT s.backup_name, h.host, h.worker, h.pool, h.config FROM stats s
		JOIN run_host h ON h.stats_id = s.rowid ORDER BY s.backup_name")" \
	"one run_host row per run: this host, no worker or pool, the configuration file"
t_eq 0 "$(sql "$CATALOG" "SELECT count(*) FROM run_host WHERE stats_id NOT IN (SELECT rowid FROM stats)")" \
	"every run_host row points at a stats row"

tb_run -c "$CONF" checknagios
t_rc 0 "checknagios after the migration: OK"
t_match '^ALL backups OK' "$T_OUT" "checknagios: all OK"

# ================================================================ the fleet view
# A job of another configuration whose row predates run_host: no host known.
sql "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, backup_end, status,
	TYPE) VALUES ('elsewhere', 'srv9', '$NOW', '$NOW', 'OK', 'BACKUP')"
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
JAR=$TMPD/jar
web_login alice alice-pw-1 "$JAR"
r=$(hcurl -b "$JAR" "$WEB/api/v1/fleet")
t_eq 200 "$(st_of "$r")" "GET /api/v1/fleet answers"
t_eq "alpha $HOST None $REALCONF|beta $HOST None $REALCONF|elsewhere None None None|oldjob $HOST None $REALCONF" \
	"$(body_of "$r" | jq_py "'|'.join(' '.join(str(x) for x in (j['name'], j['host'], j['worker'], j['config'])) for j in d['items'])")" \
	"/api/v1/fleet: the host and config of each job's last backup, null where unknown"
web_stop

t_done
