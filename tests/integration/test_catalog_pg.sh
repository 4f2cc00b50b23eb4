#!/usr/bin/env bash
#
# The PostgreSQL catalog ([catalog] url = postgresql://..., docs/catalog.md)
# against a real server on its socket, with password authentication: a
# backup writes its rows there (no SQLite file), checknagios, dumpstat and
# the web API read them; the server down is exit 4 with a clear message;
# serve reconnects after a restart; the password is in no argv or
# environment of any process, sampled from /proc the whole time.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require curl python3 rsync ssh ssh-keygen
tb_tmp
sshd_start
SRC=$TMPD/src
mkdir -p "$SRC"
printf 'one\n' >"$SRC/a"
pg_start || t_bail "PostgreSQL did not start"

# psql as the superuser over the socket (peer authentication).
psql_su() {
	runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"
}
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
		grep -laF -f "$TMPD/sentinel" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null
		echo scan >>"$TMPD/scans"
	done >"$TMPD/hits"
}
# Control: the scan does see a password shown in an argv.
python3 -c 'import time; time.sleep(60)' "$SECRET" &
CONTROL=$!
t_match "^/proc/$CONTROL/cmdline\$" \
	"$(grep -laF -f "$TMPD/sentinel" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null)" \
	"control: the /proc scan sees a password in an argv"
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
r=$(hcurl -b "$JAR" "$WEB/api/v1/jobs/beta")
t_eq '2 OK' "$(body_of "$r" | jq_py 'str(len(d["history"]))+" "+d["history"][-1]["status"]')" \
	"/api/v1/jobs/NAME: the job's history"

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
t_eq 5 "$(body_of "$r" | jq_py 'd["total"]')" \
	"/api/v1/backups sees the row written after the restart"
t_match 'connection lost, reconnecting' "$(cat "$TMPD/serve.err" "$TMPD/serve.out")" \
	"serve logs the reconnection"
web_stop

# ================================================================ secrets
touch "$TMPD/stop-sampling"
wait "$SAMPLER"
t_num_ge 3 "$(wc -l <"$TMPD/scans")" "argv/environ of every process sampled during the runs"
t_eq "" "$(sort -u "$TMPD/hits")" "the password in no process's argv or environment"
t_not "the password in no output or log" grep -rqF -f "$TMPD/sentinel" "$BASE" "$TMPD/serve.err" \
	"$TMPD/serve.out"

t_done
