#!/usr/bin/env bash
#
# mysql+ssh (SPEC §10) against a real MariaDB server started on loopback
# with its own data folder, reached through the lib.sh sshd: one
# DB.sql.gz per database in {job}/STAMP/, each restored into a fresh
# database and compared with its source; every database but the
# information/performance/sys schemas when db_name is empty; the password
# (full of quotes, backslashes, '#', '$', a tab, UTF-8) never in any
# process's argv or environment, and no file left in /tmp; a wrong
# password, an unknown database, a missing mysqldump, the server dying
# mid-dump and a changed host key each give an ERROR row with the tool's
# own words, leave no STAMP.partial, and leave earlier backups untouched.
# Database names that are no file names (../x, 100%, .hidden) are dumped
# under percent-encoded names listed in manifest.tsv; a database mysqldump
# cannot dump fails the job, named, and the others are still dumped.

# Listings of our own plain names; literal SQL and ssh text; T_* are read by lib.sh.
# shellcheck disable=SC2010,SC2012,SC2016,SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip sha256sum
for t in mariadbd mariadb-install-db mariadb mysqldump; do
	command -v "$t" >/dev/null 2>&1 || { t_skip "mysql+ssh tests" "$t is not installed"; t_done; }
done
tb_tmp
sshd_start

mariadb_start || t_bail "could not start MariaDB"
# root, through the server's socket.
myq() {
	mariadb --no-defaults --default-character-set=utf8mb4 -S "$MYSOCK" -uroot -N -B "$@"
}


# The password: characters every layer could mangle, and a unique
# sentinel to look for in /proc. (White space then ';' or '#' would start
# an inline comment in the config file, as in the original.)
SENT="sentinel-$TB_ID-pw"
PW="Q'\"\\#;\$(touch tb_pwned_$TB_ID) x"$'\t'"é€-$SENT"
printf '%s\n' "$SENT" >"$MY/sentinel"
sqlstr() {
	local s=${1//\\/\\\\}
	s=${s//\'/\\\'}
	printf "'%s'" "$s"
}

myq <<EOF || t_bail "creating the test data failed"
CREATE USER 'tbuser'@'127.0.0.1' IDENTIFIED BY $(sqlstr "$PW");
GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, EXECUTE, RELOAD, PROCESS ON *.* TO 'tbuser'@'127.0.0.1';
CREATE DATABASE d1 CHARACTER SET utf8mb4;
CREATE TABLE d1.t (id INT PRIMARY KEY, n BIGINT, s TEXT, b BLOB, f DOUBLE, d DATETIME) CHARACTER SET utf8mb4;
INSERT INTO d1.t VALUES
 (1, -9223372036854775808, 'it''s "quoted" \\\\ back\\\\slash', X'00FF0A0D27225C1A', 3.25, '2026-01-02 03:04:05'),
 (2, 42, 'multi\nline\r\nand\ttab', X'', -0.5, NULL),
 (3, NULL, 'UTF-8: é ü 日本語 🎉', NULL, 1e300, '1999-12-31 23:59:59'),
 (4, 0, '', X'DEADBEEF', 0, '2000-02-29 00:00:00');
CREATE TABLE d1.other (k VARCHAR(20) PRIMARY KEY, v INT);
INSERT INTO d1.other VALUES ('a', 1), ('b', 2);
CREATE VIEW d1.v AS SELECT id, s FROM d1.t WHERE id > 1;
CREATE PROCEDURE d1.p() SELECT COUNT(*) FROM d1.t;
CREATE DATABASE \`we're db\`;
CREATE TABLE \`we're db\`.x (i INT PRIMARY KEY, t VARCHAR(50));
INSERT INTO \`we're db\`.x VALUES (1, 'one'), (2, '\$(touch tb_pwned_$TB_ID)');
CREATE DATABASE big;
CREATE TABLE big.rows (id INT PRIMARY KEY, h VARCHAR(200));
INSERT INTO big.rows SELECT seq, CONCAT(MD5(seq), SHA1(seq), MD5(seq * 7), SHA1(seq * 3)) FROM big.seq_1_to_600000;
EOF

# A comparable, deterministic dump of a database through root.
canon() {
	mysqldump --no-defaults -S "$MY/sock" -uroot --skip-comments --skip-dump-date \
		--routines --events --triggers -- "$1" 2>&1 | grep -v '^/\*M!999999'
}
# restore_check GZ SRC_DB: load GZ into a fresh database, compare with SRC_DB.
restore_check() {
	local gz=$1 src=$2 tmpdb="restored_$RANDOM$RANDOM"
	myq -e "CREATE DATABASE \`$tmpdb\`" || return 1
	gzip -dc "$gz" | mariadb --no-defaults --default-character-set=utf8mb4 -S "$MYSOCK" -uroot -- "$tmpdb" || return 1
	# Views and routines name their database: compare with it renamed.
	if ! diff <(canon "$src") <(canon "$tmpdb" | sed "s/\`$tmpdb\`/\`$src\`/g"); then
		return 1
	fi
	myq -e "DROP DATABASE \`$tmpdb\`"
}


cfg_global "$CONF"
# db_passwd: a tab inside is kept; the value has no leading/trailing blanks.
# myjob NAME [key = value...]: a mysql+ssh job; extra keys replace these defaults.
myjob() {
	local name=$1 kv k d
	shift
	local -a keys=("type = mysql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT"
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS"
		"db_user = tbuser" "db_passwd = $PW" "db_host = 127.0.0.1" "db_port = $MYPORT")
	local -a out=()
	for d in "${keys[@]}"; do
		k=${d%% *}
		for kv in "$@"; do
			[ "${kv%% *}" = "$k" ] && continue 2
		done
		out+=("$d")
	done
	{
		echo "[$name]"
		for kv in "${out[@]}" "$@"; do echo "$kv"; done
		echo
	} >>"$CONF"
}
myjob all
myjob one "db_name = we're db"
myjob badpw "db_passwd = not-the-password"
myjob nodb "db_name = no_such_db"

t_match '^mysql\+ssh : ' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" "listdrivers shows mysql+ssh"
t_match 'db_host,db_port' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" \
	"listdrivers lists the optional db_host and db_port"

# ================================================================ every database
# The scan finds the sentinel when a process does show it (control).
(exec -a "sleep-$SENT" sleep 30) &
CONTROL=$!
tb_track $CONTROL
wait_until 10 grep -qaF -f "$MY/sentinel" "/proc/$CONTROL/cmdline"
t_match "^/proc/$CONTROL/cmdline\$" \
	"$(grep -laF -f "$MY/sentinel" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null)" \
	"control: the /proc scan sees a password in an argv"
kill "$CONTROL"
wait "$CONTROL" 2>/dev/null
touch "$MY/before"
# Sample every process's argv and environment while the backup runs.
(
	while [ ! -e "$MY/stop_scan" ]; do
		grep -laF -f "$MY/sentinel" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null
		echo scan >>"$MY/scans"
	done >"$MY/leaks"
) &
SCANNER=$!
tb_track $SCANNER
tb_run -c "$CONF" -s all backup
touch "$MY/stop_scan"
wait $SCANNER
t_rc 0 "backup of every database: exit 0"
t_eq OK "$(last_row all status)" "OK row"
S1=$(snapshots "$BASE/all" | tail -n 1)
t_ne "" "$S1" "a STAMP folder was made"
t_eq "$(printf '%s\n' big.sql.gz d1.sql.gz manifest.tsv mysql.sql.gz "we're db.sql.gz")" \
	"$(ls -1 "$BASE/all/$S1" | sort)" \
	"one DB.sql.gz per database and the manifest; information_schema, performance_schema and sys skipped"
t_eq "we're db.sql.gz	we're db" "$(grep "^we're" "$BASE/all/$S1/manifest.tsv")" \
	"the manifest maps each file to its database"
t_eq "" "$(partial_dirs "$BASE/all")" "no STAMP.partial left"
t_eq "$BASE/all/$S1" "$(last_row all backup_location)" "backup_location is the STAMP folder"
t_eq 4 "$(last_row all total_files_count)" "total_files = number of databases"
t_eq 4 "$(last_row all written_files_count)" "written_files = number of databases"
t_eq "$(cat "$BASE/all/$S1"/*.gz | wc -c)" "$(last_row all written_bytes)" \
	"written_bytes = compressed bytes"
t_match '^mysql backup of 4 databases from 127\.0\.0\.1 OK' "$(last_row all log)" "catalog log line"
for db in d1 "we're db" big; do
	t_ok "gzip -t $db.sql.gz" gzip -t "$BASE/all/$S1/$db.sql.gz"
	t_ok "$db restored into a fresh database equals its source" \
		restore_check "$BASE/all/$S1/$db.sql.gz" "$db"
done
t_match 'CREATE TABLE `user`|CREATE TABLE `db`' "$(gzip -dc "$BASE/all/$S1/mysql.sql.gz")" \
	"the mysql database (accounts) is dumped"
t_num_ge 3 "$(wc -l <"$MY/scans")" "argv/environ of every process sampled during the dump"
t_eq "" "$(cat "$MY/leaks")" "the password never appeared in any argv or environment"
# Other tests' folders are left out: a test beside this one that samples
# every process's argv (it_restore_queue) records this test's own setup.
leaked=$(find /tmp -xdev -newer "$MY/before" -type f ! -path "$TMPD/*" ! -path '/tmp/tbit.*' -size -50M \
	-print0 2>/dev/null |
	xargs -0 -r grep -laF -f "$MY/sentinel" 2>/dev/null)
t_eq "" "$leaked" "no file holding the password was written in /tmp"
t_nomatch "$SENT" "$(cat "$BASE"/log/tisbackup_*.log)" "the password is not in the run log"
t_ok "no injected command ran" no_markers
sha_before=$(cd "$BASE/all/$S1" && sha256sum -- * | sort)

# ================================================================ one database, second run
wait_next_second
tb_run -c "$CONF" -s one backup
t_rc 0 "db_name = we're db: exit 0"
S2=$(snapshots "$BASE/one" | tail -n 1)
t_eq "$(printf '%s\n' manifest.tsv "we're db.sql.gz")" "$(ls -1 "$BASE/one/$S2")" \
	"db_name: only that database (and the manifest)"
t_eq 1 "$(last_row one total_files_count)" "db_name: total_files = 1"
t_ok "we're db restored equals its source" restore_check "$BASE/one/$S2/we're db.sql.gz" "we're db"

# ================================================================ names that are no file names
# Every database is dumped under a reversible safe name (percent-encoded);
# one that mysqldump cannot dump (a view on a dropped table) fails the job,
# named, and the others are still dumped, kept in STAMP.partial.
myq <<'EOF' || t_bail "creating the oddly named databases failed"
CREATE DATABASE `../x`;
CREATE TABLE `../x`.t (i INT PRIMARY KEY, s VARCHAR(20));
INSERT INTO `../x`.t VALUES (1, 'dot dot slash');
CREATE DATABASE `100%`;
CREATE TABLE `100%`.t (i INT PRIMARY KEY);
INSERT INTO `100%`.t VALUES (100);
CREATE DATABASE `.hidden`;
CREATE DATABASE broken;
CREATE TABLE broken.gone (i INT);
CREATE VIEW broken.v AS SELECT i FROM broken.gone;
DROP TABLE broken.gone;
EOF
myjob odd
wait_next_second
tb_run -c "$CONF" -s odd backup
t_rc 1 "odd names, one broken database: exit 1"
t_eq ERROR "$(last_row odd status)" "odd names, one broken database: ERROR row"
t_match "1 of [0-9]+ databases could not be dumped: 'broken'" "$(last_row odd log)" \
	"odd names: the log names the one database that failed"
t_match "ERROR \[odd\] mysqldump of database 'broken' on 127\.0\.0\.1 failed" "$T_ERR" \
	"odd names: its own error, in mysqldump's words, is in the run log"
t_eq "" "$(snapshots "$BASE/odd")" "odd names: no STAMP folder (the backup is incomplete)"
P=$(partial_dirs "$BASE/odd")
t_ne "" "$P" "odd names: the dumps made are kept in STAMP.partial"
t_eq "$(printf '%s\n' "%2E.%2Fx.sql.gz" "%2Ehidden.sql.gz" "100%25.sql.gz")" \
	"$(cd "$BASE/odd/$P" 2>/dev/null && ls -1 -- %* 1*.sql.gz | sort)" \
	"odd names: ../x, .hidden and 100% are dumped under percent-encoded names"
t_ok "odd names: no file outside the folder" test ! -e "$BASE/x.sql.gz" -a ! -e "$BASE/odd/x.sql.gz"
t_eq "%2E.%2Fx.sql.gz	../x" "$(grep -F '../x' "$BASE/odd/$P/manifest.tsv")" \
	"odd names: the manifest maps the file back to ../x"
myq -e 'CREATE DATABASE restored_dotdot'
gzip -dc "$BASE/odd/$P/%2E.%2Fx.sql.gz" |
	mariadb --no-defaults --default-character-set=utf8mb4 -S "$MYSOCK" -uroot -- restored_dotdot
t_eq "$(myq -e 'SELECT * FROM `../x`.t')" "$(myq -e 'SELECT * FROM restored_dotdot.t')" \
	"../x restored into a fresh database has its rows"
myq -e 'DROP DATABASE restored_dotdot'
myq -e 'DROP DATABASE broken'
wait_next_second
tb_run -c "$CONF" -s odd backup
t_rc 0 "odd names, nothing broken: exit 0"
S3=$(snapshots "$BASE/odd" | tail -n 1)
t_eq 7 "$(last_row odd total_files_count)" "odd names: every database dumped (7 with broken dropped)"
t_eq "100%25.sql.gz	100%" "$(grep -F '100%' "$BASE/odd/$S3/manifest.tsv")" \
	"odd names: 100% is in the manifest"
# The names GET /api/v1/jobs/NAME/databases offers (and the web form sends)
# are the databases' own: restore --db takes them, not the file names.
myq -e "GRANT ALL ON restored_pct.* TO 'tbuser'@'127.0.0.1'"
tb_run -c "$CONF" -s odd restore --db '100%25' --to-db restored_pct
t_rc 1 "odd names: restore --db 100%25 (the file's name, not the database's): refused"
t_match "holds no dump of database '100%25' \(it holds: .*'100%'" "$T_ERR" \
	"odd names: the refusal lists the databases, 100% among them"
tb_run -c "$CONF" -s odd restore --db '100%' --to-db restored_pct
t_rc 0 "odd names: restore --db 100% (file 100%25.sql.gz): exit 0"
t_eq "$(myq -e 'SELECT * FROM `100%`.t')" "$(myq -e 'SELECT * FROM restored_pct.t')" \
	"odd names: restore --db 100% brought its rows back"
myq -e "DROP DATABASE restored_pct; REVOKE ALL ON restored_pct.* FROM 'tbuser'@'127.0.0.1'"
myq -e 'DROP DATABASE `../x`; DROP DATABASE `100%`; DROP DATABASE `.hidden`'

# ================================================================ failures
# check_failed JOB DESC REGEX: ERROR row whose log matches, nothing left.
check_failed() {
	local job=$1 desc=$2 re=$3
	t_rc 1 "$desc: exit 1"
	t_eq ERROR "$(last_row "$job" status)" "$desc: ERROR row"
	t_imatch "$re" "$(last_row "$job" log)" "$desc: the log has the real cause"
	t_eq "" "$(snapshots "$BASE/$job")" "$desc: no STAMP folder"
	t_eq "" "$(partial_dirs "$BASE/$job")" "$desc: no STAMP.partial left"
	t_eq "" "$(find "$BASE/$job" -name '*.partial' 2>/dev/null)" "$desc: no .partial file"
}

tb_run -c "$CONF" -s badpw backup
check_failed badpw "wrong password" 'Access denied for user'

tb_run -c "$CONF" -s nodb backup
check_failed nodb "unknown database" "Unknown database 'no_such_db'"

# mysqldump missing on the server: a key whose sessions get an empty PATH.
k=$TMPD/nopath_key
ssh-keygen -q -t ed25519 -N '' -f "$k" >/dev/null
printf 'command="PATH=/nonexistent; eval \\"$SSH_ORIGINAL_COMMAND\\"" %s\n' "$(cat "$k.pub")" \
	>>"$SSHD_DIR/authorized_keys"
myjob notool "db_name = d1" "private_key = $k" "ssh_connection_sharing = no"
tb_run -c "$CONF" -s notool backup
check_failed notool "mysqldump missing" 'mysqldump.*not found'

# The server dies in the middle of a big dump.
myjob midway "db_name = big"
tb_run_bg() {
	timeout -k 5 300 "$TISBACKUP" "$@" >"$TMPD/.out" 2>"$TMPD/.err" </dev/null
	echo $? >"$TMPD/.rc"
}
rm -f "$TMPD/.rc"
tb_run_bg -c "$CONF" -s midway backup &
BG=$!
tb_track $BG
grown() {
	local f
	f=$(find "$BASE/midway" -name 'big.sql.gz.partial' -size +200k 2>/dev/null | head -n 1)
	[ -n "$f" ]
}
if wait_until 60 grown; then
	kill -9 "$MYPID"
	wait $BG
	T_RC=$(cat "$TMPD/.rc")
	T_OUT=$(cat "$TMPD/.out")
	T_ERR=$(cat "$TMPD/.err")
	check_failed midway "server killed mid-dump" 'mysqldump of database .big. on 127\.0\.0\.1 failed'
	t_imatch 'Lost connection|Error 20[0-9][0-9]' "$(last_row midway log)" \
		"server killed mid-dump: mysqldump's own words are in the log"
else
	wait $BG
	t_fail "the big dump never reached 200 KiB" "$(cat "$TMPD/.err")"
fi

# The host key changed (the server is down now: ssh refuses first).
sshd_restart_newkey
wait_next_second
tb_run -c "$CONF" -s one backup
t_rc 1 "host key changed: exit 1"
t_eq ERROR "$(last_row one status)" "host key changed: ERROR row"
t_imatch 'REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed' \
	"$(last_row one log)" "host key changed: ssh's words are in the log"
t_eq "$S2" "$(snapshots "$BASE/one")" "host key changed: the earlier backup is still the only one"
t_eq "" "$(partial_dirs "$BASE/one")" "host key changed: no STAMP.partial left"

t_eq "$sha_before" "$(cd "$BASE/all/$S1" && sha256sum -- * | sort)" \
	"the first backup's files are untouched by the failures"
t_eq "" "$(cat "$MY/leaks")" "still no password leak"

t_done
