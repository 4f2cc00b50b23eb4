#!/usr/bin/env bash
#
# tisbackup restore --to-server (docs/restore.md "Into another server"):
# a database dump backed up from server A is loaded into server B.
#
# "Another server" here: two sshd processes with their own host keys on
# two loopback addresses, 127.0.0.1 (A, the job's server_name) and
# 127.0.0.2 (B), on the same port (a fleet's ssh_port), each with its own
# MariaDB and PostgreSQL server. As on real machines, the job's database
# settings mean "the server's own local database": db_host is unset
# (PostgreSQL) or localhost (MariaDB), and each sshd's sessions find their
# own instance the way a machine's own configuration would (PGHOST, and
# MYSQL_HOME/my.cnf naming the socket, set per sshd with SetEnv). So a
# restore that went to A instead of B, or the reverse, is seen.
#  - pgsql+ssh and mysql+ssh: back up from A, --to-server B loads it
#    there, row by row equal, A untouched; into an existing database on B
#    without --replace refused and B untouched; --replace; --dry-run
#    creates nothing; USER@HOST; the RESTORE row names B; B's host key is
#    recorded in the job's known_hosts (accept-new);
#  - bad values (-oProxyCommand=..., empty, "a b", host:port, a file job)
#    refused with exit code 2 naming --to-server, no connection made;
#  - through the queue: POST /api/v1/runs with options.to_server loads into
#    B; bad values refused with 400 naming options.to_server; a word
#    written straight into the queue refused by the worker;
#  - the MariaDB password is in no argv or environment during the restores
#    (proc_scan, with a control).

# Literal SQL and shell text; T_* are read by lib.sh.
# shellcheck disable=SC2016,SC2034,SC2153
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip curl python3
tb_tmp
sshd_start

QUEUECTL=${TB_QUEUECTL:-$(dirname "$TISBACKUP")/tests/tb_queuectl}
[ -x "$QUEUECTL" ] || t_bail "no tb_queuectl at $QUEUECTL (set TB_QUEUECTL)"
command -v mariadbd >/dev/null || t_bail "MariaDB is not installed"
pg_find || t_bail "PostgreSQL is not installed"

# ---------------------------------------------------------------- server B's databases
mariadb_start || t_bail "MariaDB (server A) did not start"
MY2=$TMPD/mysql2
mkdir -p "$MY2"
mariadb-install-db --no-defaults --datadir="$MY2/data" --user=root \
	--auth-root-authentication-method=normal --skip-test-db >"$MY2/install.log" 2>&1 ||
	t_bail "mariadb-install-db (server B) failed: $(tail -5 "$MY2/install.log")"
mariadbd --no-defaults --datadir="$MY2/data" --socket="$MY2/sock" --skip-networking \
	--user=root --pid-file="$MY2/pid" --log-error="$MY2/error.log" \
	--innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
tb_track $!
wait_until 60 mariadb-admin --no-defaults -S "$MY2/sock" -uroot ping >/dev/null 2>&1 ||
	t_bail "mariadbd (server B) did not start: $(tail -20 "$MY2/error.log")"

pg_start || t_bail "PostgreSQL (server A) did not start"
PG2=$TMPD/pg2
mkdir -p "$PG2/sock"
chown -R postgres "$PG2"
runuser -u postgres -- "$PGBIN/initdb" -D "$PG2/data" -U postgres --auth-local=peer \
	--auth-host=reject -E UTF8 --locale=C.UTF-8 >"$PG2/initdb.log" 2>&1 ||
	t_bail "initdb (server B) failed: $(tail -5 "$PG2/initdb.log")"
# The same port as A's: each server's PostgreSQL listens on its own socket folder.
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG2/data" -l "$PG2/server.log" -w -t 60 \
	-o "-k $PG2/sock -p $PGPORT -c listen_addresses=" start >/dev/null 2>&1 ||
	t_bail "postgres (server B) did not start: $(tail -20 "$PG2/server.log")"
tb_track "$(head -n 1 "$PG2/data/postmaster.pid")"

# Each server's own client configuration: where its local databases are.
mkdir -p "$TMPD/srvA" "$TMPD/srvB"
printf '[client]\nsocket=%s\n' "$MYSOCK" >"$TMPD/srvA/my.cnf"
printf '[client]\nsocket=%s\n' "$MY2/sock" >"$TMPD/srvB/my.cnf"

# ---------------------------------------------------------------- the two sshd
# A: lib.sh's sshd, told where its databases are, then reloaded (SIGHUP).
sshd_setenv "PGHOST=$PG/sock" "MYSQL_HOME=$TMPD/srvA"
kill -HUP "$SSHD_PID"
sshd_reloaded() {
	[ "$(grep -c "Server listening on 127.0.0.1 port $SSHD_PORT" "$SSHD_LOG")" -ge 2 ] &&
		port_open "$SSHD_PORT"
}
wait_until 30 sshd_reloaded || t_bail "sshd (server A) did not reload: $(tail -5 "$SSHD_LOG")"

# B: another sshd instance, another host key, on 127.0.0.2 and the same port.
sshd_instance_start B 127.0.0.2 "$SSHD_PORT" "PGHOST=$PG2/sock" "MYSQL_HOME=$TMPD/srvB" ||
	t_bail "sshd (server B) did not start"
SSHD_B=${SSHD_I_DIR[B]}
# Commands B's sshd ran (one per ssh session, shared connection or not).
b_sessions() { grep -c 'Starting session: command' "$SSHD_B/sshd.log"; }

# ---------------------------------------------------------------- data and jobs
pqa() { runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"; }
pqb() { runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG2/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"; }
# pgcanon SOCKDIR DB: the database as SQL, comparable between servers.
pgcanon() {
	runuser -u postgres -- pg_dump -h "$1" -p "$PGPORT" --no-owner -- "$2" 2>&1 |
		grep -vE '^(\\restrict|\\unrestrict|--)'
}
pqa -d postgres <<'SQL' >/dev/null || t_bail "creating the PostgreSQL test data failed"
CREATE DATABASE "shop's";
\c "shop's"
CREATE TABLE t (id int PRIMARY KEY, s text, b bytea);
INSERT INTO t SELECT g, 'row ' || g || E' it''s\n"x"', decode(md5(g::text), 'hex') FROM generate_series(1, 3000) g;
CREATE VIEW v AS SELECT id FROM t WHERE id < 10;
SQL

mya() { mariadb --no-defaults --default-character-set=utf8mb4 -S "$MYSOCK" -uroot -N -B "$@"; }
myb() { mariadb --no-defaults --default-character-set=utf8mb4 -S "$MY2/sock" -uroot -N -B "$@"; }
mycanon() {
	mysqldump --no-defaults -S "$1" -uroot --skip-comments --skip-dump-date -- "$2" 2>&1 |
		grep -av '^/\*M!999999'
}
SENT="sentinel-$TB_ID-pw"
PW="Q'\"\\#\$(touch tb_pwned_$TB_ID) x-$SENT"
printf '%s\n' "$SENT" >"$TMPD/secrets"
sqlstr() {
	local s=${1//\\/\\\\}
	s=${s//\'/\\\'}
	printf "'%s'" "$s"
}
# The job's account exists on both servers (a restore logs in with the job's credentials).
for q in mya myb; do
	$q <<SQL || t_bail "creating the MariaDB account failed ($q)"
CREATE USER 'tbuser'@'localhost' IDENTIFIED BY $(sqlstr "$PW");
GRANT ALL ON *.* TO 'tbuser'@'localhost';
SQL
done
mya <<'SQL' || t_bail "creating the MariaDB test data failed"
CREATE DATABASE d1 CHARACTER SET utf8mb4;
CREATE TABLE d1.t (id INT PRIMARY KEY, s TEXT, b BLOB) CHARACTER SET utf8mb4;
USE d1;
INSERT INTO d1.t SELECT seq, CONCAT('row ', seq, ' it''s \n "x"'), UNHEX(MD5(seq)) FROM seq_1_to_50000;
SQL

SSHKEYS=("server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" "private_key = $CLIENT_KEY"
	"known_hosts_file = $KNOWN_HOSTS")
cfg_global "$CONF"
job_section "$CONF" pg "type = pgsql+ssh" "${SSHKEYS[@]}" "db_name = shop's" "db_port = $PGPORT"
job_section "$CONF" my "type = mysql+ssh" "${SSHKEYS[@]}" "db_name = d1" "db_user = tbuser" \
	"db_passwd = $PW"
cfg_job "$CONF" files "$TMPD/src"
mkdir -p "$TMPD/src"

# A sampler of every argv and environment while the restores run.
t_proc_scan_control "$TMPD/secrets"
: >"$TMPD/leaks"
(
	while [ ! -e "$TMPD/stop" ]; do
		proc_scan "$TMPD/secrets" >>"$TMPD/leaks"
		echo x >>"$TMPD/samples"
	done
) &
SAMPLER=$!
tb_track "$SAMPLER"

# ================================================================ pgsql+ssh
tb_run -c "$CONF" -s pg backup
t_rc 0 "pgsql: backup from server A OK"
want=$(pgcanon "$PG/sock" "shop's")
t_eq "" "$(pqb -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'shop%'")" \
	"pgsql: server B has no such database yet"

tb_run -c "$CONF" -s pg restore --to-server 127.0.0.2
t_rc 0 "pgsql: restore --to-server B: exit 0"
t_eq "$want" "$(pgcanon "$PG2/sock" "shop's")" "pgsql: the database on B equals the one backed up from A"
t_eq "3000" "$(pqa -d "shop's" -c 'SELECT count(*) FROM t')" "pgsql: A is untouched"
t_eq "RESTORE|OK|127.0.0.2:shop's" "$(last_row pg "TYPE || '|' || status || '|' || backup_location")" \
	"pgsql: the RESTORE row's location names server B"
t_match "on 127\\.0\\.0\\.2 OK.*to server root@127\\.0\\.0\\.2" "$(last_row pg log)" \
	"pgsql: the RESTORE row's log names server B"
t_eq "$(cut -d' ' -f1,2 "$SSHD_B/host_ed25519.pub")" \
	"$(ssh-keygen -F "[127.0.0.2]:$SSHD_PORT" -f "$KNOWN_HOSTS" | grep -v '^#' | cut -d' ' -f2,3)" \
	"B's own host key is recorded in the job's known_hosts (host_key_policy accept-new)"

pqb -d "shop's" -c "DELETE FROM t WHERE id > 10" >/dev/null
sessions=$(b_sessions)
tb_run -c "$CONF" -s pg restore --to-server 127.0.0.2
t_rc 1 "pgsql: restore into an existing database on B without --replace: refused"
t_match "already exists on 127\\.0\\.0\\.2.*nothing was changed.*--replace" "$T_ERR" \
	"pgsql: the refusal names B and --replace"
t_eq "10" "$(pqb -d "shop's" -c 'SELECT count(*) FROM t')" "pgsql: the refused restore left B's database untouched"
t_eq "" "$(pqb -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE '%partial%'")" \
	"pgsql: the refused restore created no staging database on B"

tb_run -c "$CONF" -s pg -d restore --to-server 127.0.0.2 --to-db dry
t_rc 0 "pgsql: restore -d --to-server: exit 0"
t_match "would load .* into database 'dry' on 127\\.0\\.0\\.2" "$T_OUT" "pgsql: the dry run names B"
t_eq "" "$(pqb -d postgres -c "SELECT datname FROM pg_database WHERE datname = 'dry'")" \
	"pgsql: the dry run created nothing on B"

tb_run -c "$CONF" -s pg restore --to-server root@127.0.0.2 --replace
t_rc 0 "pgsql: restore --to-server USER@B --replace: exit 0"
t_eq "$want" "$(pgcanon "$PG2/sock" "shop's")" "pgsql: --replace: B's database equals the backup again"
t_num_ge $((sessions + 3)) "$(b_sessions)" "pgsql: the restore ran its commands through B's sshd"

# ================================================================ mysql+ssh
tb_run -c "$CONF" -s my backup
t_rc 0 "mysql: backup from server A OK"
want=$(mycanon "$MYSOCK" d1)
tb_run -c "$CONF" -s my restore --db d1 --to-server 127.0.0.2
t_rc 0 "mysql: restore --to-server B: exit 0"
t_eq "$want" "$(mycanon "$MY2/sock" d1)" "mysql: the database on B equals the one backed up from A"
t_eq "RESTORE|OK|127.0.0.2:d1" "$(last_row my "TYPE || '|' || status || '|' || backup_location")" \
	"mysql: the RESTORE row's location names server B"

myb -e "DELETE FROM d1.t WHERE id > 7"
mya -e "DELETE FROM d1.t WHERE id > 5"
tb_run -c "$CONF" -s my restore --db d1 --to-server 127.0.0.2
t_rc 1 "mysql: restore into an existing database on B without --replace: refused"
t_match "already exists on 127\\.0\\.0\\.2" "$T_ERR" "mysql: the refusal names B"
t_eq "7" "$(myb -e 'SELECT count(*) FROM d1.t')" "mysql: the refused restore left B's database untouched"

tb_run -c "$CONF" -s my restore --to-server root@127.0.0.2 --replace --to-db 'copy`1'
t_rc 0 "mysql: restore --to-server USER@B --to-db NEW: exit 0"
t_eq "50000" "$(myb -e 'SELECT count(*) FROM `copy``1`.t')" "mysql: --to-db on B: every row is there"
t_eq "" "$(mya -e "SHOW DATABASES LIKE 'copy%'")" "mysql: nothing was created on A"
t_eq "5" "$(mya -e 'SELECT count(*) FROM d1.t')" "mysql: A's database is untouched"
tb_run -c "$CONF" -s my restore --to-server 127.0.0.2 --replace
t_rc 0 "mysql: restore --to-server B --replace: exit 0"
t_eq "$want" "$(mycanon "$MY2/sock" d1)" "mysql: --replace: B's database equals the backup again"

# ================================================================ bad values
rows=$(csql "select count(*) from stats")
sessions=$(b_sessions)
for v in '-oProxyCommand=touch tb_pwned' '' 'a b' "127.0.0.2:$SSHD_PORT" '-l root@127.0.0.2' 'r t@127.0.0.2' 'root@-x'; do
	tb_run -c "$CONF" -s my restore --to-server "$v" --replace
	t_rc 2 "restore --to-server '$v': usage error (exit 2)"
	t_match "^tisbackup: restore: --to-server '" "$T_ERR" "restore --to-server '$v': the error names the option"
done
tb_run -c "$CONF" -s files restore --to-server 127.0.0.2 --to /tmp/x
t_rc 2 "restore --to-server on a file job: usage error"
t_match "--to-server is for database dumps" "$T_ERR" "restore --to-server on files: the error says so"
t_eq "$rows" "$(csql "select count(*) from stats")" "the refused restores wrote no catalog row"
t_eq "$sessions" "$(b_sessions)" "the refused restores ran nothing through B's sshd"
t_eq "$want" "$(mycanon "$MY2/sock" d1)" "the refused restores left B's database untouched"

# ================================================================ through the queue
PW_A="alice-$TB_ID-pw"
printf '%s\n' "$PW_A" >>"$TMPD/secrets"
web_config
web_user alice admin "$PW_A" || t_bail "tisbackup user add failed"
printf 'machine 127.0.0.1 login alice password %s\n' "$PW_A" >"$TMPD/netrc.alice"
A=(--netrc-file "$TMPD/netrc.alice")
web_start
apost() { hcurl "${A[@]}" -X POST -H 'Content-Type: application/json' --data-binary "$1" "$WEB/api/v1/runs"; }
run_json() { curl -s "${A[@]}" "$WEB/api/v1/runs/$1"; }
run_ended() {
	local s
	s=$(run_json "$1" | jq_py 'd["state"]')
	[ "$s" = "done" ] || [ "$s" = failed ] || [ "$s" = cancelled ]
}
state_of() { run_json "$1" | jq_py 'd["state"]+" "+str(d["exit_code"])'; }

r=$(apost '{"action": "restore", "sections": ["my"], "options": {"db": "d1", "to_db": "queued", "to_server": "root@127.0.0.2"}}')
t_eq 202 "$(st_of "$r")" "queue: POST a restore with to_server: 202"
RUN=$(body_of "$r" | jq_py 'd.get("id", "")')
wait_until 120 run_ended "$RUN"
t_eq "done 0" "$(state_of "$RUN")" "queue: the restore to B ends done"
t_eq '["--db=d1", "--to-db=queued", "--to-server=root@127.0.0.2"]' "$(run_json "$RUN" | jq_py 'd["options"]')" \
	"queue: the run carries --to-server"
t_eq "50000" "$(myb -e 'SELECT count(*) FROM queued.t')" "queue: the database was loaded on B"
t_eq "" "$(mya -e "SHOW DATABASES LIKE 'queued'")" "queue: nothing was loaded on A"
t_match "by alice \\(queue run $RUN\\), to server root@127\\.0\\.0\\.2" "$(last_row my log)" \
	"queue: the RESTORE row names who queued it and server B"

nruns=$(curl -s "${A[@]}" "$WEB/api/v1/runs?limit=1000" | jq_py 'len(d["items"])')
R='"action": "restore", "sections": ["my"]'
for v in '"-oProxyCommand=touch x"' '""' '"a b"' '"h:22"' '"a\nb"' '7'; do
	r=$(apost "{$R, \"options\": {\"db\": \"d1\", \"to_server\": $v}}")
	t_eq "400 options.to_server" "$(st_of "$r") $(body_of "$r" | jq_py 'd.get("field")')" \
		"queue: to_server $v refused with 400 naming options.to_server"
done
r=$(apost '{"action": "restore", "sections": ["files"], "options": {"to": "/tmp/x", "to_server": "127.0.0.2"}}')
t_eq "400 options.to_server" "$(st_of "$r") $(body_of "$r" | jq_py 'd.get("field")')" \
	"queue: to_server on a file job refused with 400 naming options.to_server"
r=$(apost '{"action": "restore", "sections": ["files"], "options": {"to_server": "127.0.0.2"}}')
t_match "database dumps only" "$(body_of "$r")" "queue: ... saying it is for database dumps"
t_eq "$nruns" "$(curl -s "${A[@]}" "$WEB/api/v1/runs?limit=1000" | jq_py 'len(d["items"])')" \
	"queue: no refused request was queued"

out=$("$QUEUECTL" "$GUI" "$BASE/log" enqueue "$CONF" restore my - "--db=d1" \
	"--to-server=-oProxyCommand=touch $TMPD/pwned") || t_bail "tb_queuectl enqueue failed"
RUN=${out%% *}
wait_until 120 run_ended "$RUN"
t_eq "failed" "$(run_json "$RUN" | jq_py 'd["state"]')" "queue: a bad --to-server written straight into the queue fails"
t_match "refused: --to-server=-oProxyCommand" "$(run_json "$RUN" | jq_py 'd["error"]')" \
	"queue: the worker names the refused word"
t_ok "queue: the refused run ran nothing" test ! -e "$TMPD/pwned"
web_stop

touch "$TMPD/stop"
wait "$SAMPLER" 2>/dev/null
t_num_ge 5 "$(wc -l <"$TMPD/samples")" "the argv/environment sampler ran during the restores"
t_eq "" "$(head -c 300 "$TMPD/leaks")" "no password in any argv or environment during the restores"
t_nomatch "$SENT" "$(cat "$BASE"/log/tisbackup_*.log)" "the MariaDB password is not in the run logs"
t_ok "no injected command ran" no_markers
t_nomatch 'Sanitizer|runtime error:' "$(cat "$TMPD/serve.err")" "no sanitizer report from serve"
t_done
