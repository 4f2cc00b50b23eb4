#!/usr/bin/env bash
#
# pgsql+ssh (SPEC §10) against a real PostgreSQL server started on
# loopback as the postgres system user with its own data folder and socket
# folder, reached through the lib.sh sshd: one DB-STAMP.sql.gz per
# database in {job}/STAMP/, each restored into a fresh database and
# compared with its source; every non-template database when db_name is
# empty; an unknown database, a missing pg_dump and the server stopping
# mid-dump each give an ERROR row with the tool's own words, leave no
# .partial and leave earlier backups untouched.
# Names: every database is dumped whatever its name holds ('/', '%', "..",
# a newline, a tab, a quote, a backslash, '=', non-ASCII), under a safe
# file name (percent-encoded where needed) that STAMP/manifest.tsv maps
# back; restore --db takes the real name. A database pg_dump cannot reach
# (pg_hba.conf rejects it) fails the job, named, and the others are still
# dumped, kept in STAMP.partial.
# Compression: by default pg_dump gzips on the server (--compress=1) and
# the stream is stored as received after a check; compression_level
# reaches pg_dump; compress_on = local sends plain SQL and gzips here; a
# stream cut short or followed by garbage with exit status 0 is an ERROR.

# Listings of our own plain names; literal SQL and ssh text; T_* are read by lib.sh.
# shellcheck disable=SC2010,SC2012,SC2016,SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip sha256sum runuser
if ! pg_find; then
	t_skip "pgsql+ssh tests" "PostgreSQL server, client or the postgres user is missing"
	t_done
fi
tb_tmp
sshd_start

pg_start || t_bail "could not start PostgreSQL"
asp() {
	runuser -u postgres -- "$@"
}
# psql as postgres on our server; extra arguments follow.
pq() {
	asp "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"
}

pq -d postgres <<'EOF' >/dev/null || t_bail "creating the test data failed"
CREATE DATABASE p1;
CREATE DATABASE "we're db";
CREATE DATABASE big;
\c p1
CREATE TABLE t (id int PRIMARY KEY, n bigint, s text, b bytea, f double precision, d timestamptz);
INSERT INTO t VALUES
 (1, -9223372036854775808, E'it''s "quoted" \\ back\\slash', '\x00ff0a0d27225c1a', 3.25, '2026-01-02 03:04:05+01'),
 (2, 42, E'multi\nline\r\nand\ttab', '', -0.5, NULL),
 (3, NULL, 'UTF-8: é ü 日本語 🎉', NULL, 1e300, '1999-12-31 23:59:59Z'),
 (4, 0, '', '\xdeadbeef', 0, '2000-02-29 00:00:00Z');
CREATE TABLE other (k text PRIMARY KEY, v int);
INSERT INTO other VALUES ('a', 1), ('b', 2);
CREATE VIEW v AS SELECT id, s FROM t WHERE id > 1;
CREATE FUNCTION p() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM t';
\c "we're db"
CREATE TABLE x (i int PRIMARY KEY, t text);
INSERT INTO x VALUES (1, 'one'), (2, '$(touch tb_pwned_never)');
\c big
CREATE TABLE rows (id int PRIMARY KEY, h text);
INSERT INTO rows SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 3)::text) FROM generate_series(1, 800000) g;
EOF

# A comparable dump of a database (no random \restrict keys, no comments).
canon() {
	asp pg_dump -h "$PG/sock" -p "$PGPORT" --no-owner -- "$1" 2>&1 |
		grep -vE '^(\\restrict|\\unrestrict|--)'
}
# restore_check GZ SRC_DB: load GZ into a fresh database, compare with SRC_DB.
restore_check() {
	local gz=$1 src=$2 tmpdb="restored_$RANDOM$RANDOM"
	pq -d postgres -c "CREATE DATABASE \"$tmpdb\"" >/dev/null || return 1
	gzip -dc "$gz" | pq -q -d "$tmpdb" >/dev/null || return 1
	diff <(canon "$src") <(canon "$tmpdb") || return 1
	pq -d postgres -c "DROP DATABASE \"$tmpdb\"" >/dev/null
}


cfg_global "$CONF"
# pgjob NAME [key = value...]: a pgsql+ssh job; extra keys replace these defaults.
pgjob() {
	local name=$1 kv k d
	shift
	local -a keys=("type = pgsql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT"
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS"
		"db_host = $PG/sock" "db_port = $PGPORT")
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
pgjob all "tmp_dir = /var/tmp"
pgjob one "db_name = we're db" "encoding = LATIN1"
pgjob nodb "db_name = no_such_db"

t_match '^pgsql\+ssh : ' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" "listdrivers shows pgsql+ssh"

# ================================================================ every database
touch "$PG/before"
tb_run -c "$CONF" -s all backup
t_rc 0 "backup of every database: exit 0"
t_eq OK "$(last_row all status)" "OK row"
S1=$(snapshots "$BASE/all" | tail -n 1)
t_ne "" "$S1" "a STAMP folder was made"
t_eq "$(printf '%s\n' "big-$S1.sql.gz" globals.sql.gz manifest.tsv "p1-$S1.sql.gz" "postgres-$S1.sql.gz" "we're db-$S1.sql.gz" | sort)" \
	"$(ls -1 "$BASE/all/$S1" | sort)" "one DB-STAMP.sql.gz per non-template database, globals.sql.gz and the manifest"
t_match "CREATE ROLE postgres;" "$(gzip -dc "$BASE/all/$S1/globals.sql.gz")" \
	"globals.sql.gz holds the roles (pg_dumpall --globals-only)"
t_eq "" "$(partial_dirs "$BASE/all")" "no STAMP.partial left"
t_eq "$BASE/all/$S1" "$(last_row all backup_location)" "backup_location is the STAMP folder"
t_eq 4 "$(last_row all total_files_count)" "total_files = number of databases"
t_eq "we're db-$S1.sql.gz	we're db" "$(grep "^we're" "$BASE/all/$S1/manifest.tsv")" \
	"the manifest maps each file to its database"
t_eq "$(cat "$BASE/all/$S1"/*.gz | wc -c)" "$(last_row all written_bytes)" \
	"written_bytes = compressed bytes"
t_match '^pgsql backup of 4 databases from 127\.0\.0\.1 OK' "$(last_row all log)" "catalog log line"
for db in p1 "we're db" big; do
	t_ok "gzip -t $db" gzip -t "$BASE/all/$S1/$db-$S1.sql.gz"
	t_ok "$db restored into a fresh database equals its source" \
		restore_check "$BASE/all/$S1/$db-$S1.sql.gz" "$db"
done
t_match "^SET client_encoding = 'UTF8';" "$(gzip -dc "$BASE/all/$S1/p1-$S1.sql.gz")" \
	"encoding defaults to UTF8"
leftover=$(find /tmp /var/tmp -xdev -maxdepth 1 -newer "$PG/before" -user postgres 2>/dev/null)
t_eq "" "$leftover" "nothing staged in /tmp or tmp_dir on the server"
sha_before=$(cd "$BASE/all/$S1" && sha256sum -- * | sort)

# ================================================================ one database
wait_next_second
tb_run -c "$CONF" -s one backup
t_rc 0 "db_name = we're db: exit 0"
S2=$(snapshots "$BASE/one" | tail -n 1)
t_eq "$(printf '%s\n' globals.sql.gz manifest.tsv "we're db-$S2.sql.gz")" "$(ls -1 "$BASE/one/$S2" | sort)" \
	"db_name: only that database (and the roles, and the manifest)"
t_match "^SET client_encoding = 'LATIN1';" "$(gzip -dc "$BASE/one/$S2/we're db-$S2.sql.gz")" \
	"encoding = LATIN1 reaches pg_dump"

# ================================================================ names that are no file names
# Databases whose names hold '/', '%', "..", a newline, a tab, a quote, a
# backslash, '=' (pg_dump would take a bare "x=y" for a connection string)
# and non-ASCII letters: each dumped under a safe file name the manifest
# maps back. "locked" is rejected by pg_hba.conf (pg_dump cannot connect):
# the job fails naming it, and the others are still dumped.
NL=$'new\nline\t\'q\' \\ x=y'
pq -d postgres -v "nl=$NL" <<'EOF' >/dev/null || t_bail "creating the oddly named databases failed"
CREATE DATABASE "a/b%c";
CREATE DATABASE "..";
CREATE DATABASE :"nl";
CREATE DATABASE "données";
CREATE DATABASE locked;
\c "a/b%c"
CREATE TABLE t (i int PRIMARY KEY, s text);
INSERT INTO t VALUES (1, 'slash percent'), (2, E'two\nlines');
\c "données"
CREATE TABLE été (i int PRIMARY KEY);
INSERT INTO été VALUES (7);
EOF
# nl_file / nl_man: the newline database's file name and manifest field.
nl_file=$'new%0Aline%09\'q\' \\ x=y'
nl_man=$'new\\nline\\t\'q\' \\\\ x=y'
hba=$PG/data/pg_hba.conf
cp "$hba" "$TMPD/pg_hba.orig"
{ echo "local locked all reject"; cat "$TMPD/pg_hba.orig"; } >"$hba"
pq -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
locked_out() { ! pq -d locked -c 'SELECT 1' >/dev/null 2>&1; }
wait_until 30 locked_out || t_bail "pg_hba.conf's reject of 'locked' never took effect"
pgjob odd
wait_next_second
tb_run -c "$CONF" -s odd backup
t_rc 1 "odd names, one database rejected: exit 1"
t_eq ERROR "$(last_row odd status)" "odd names, one database rejected: ERROR row"
t_match "1 of 9 databases could not be dumped: 'locked' \(see the lines above\); the 8 others are in .*\.partial" \
	"$(last_row odd log)" "odd names: the log names the one database that failed, and where the others are"
t_match "ERROR \[odd\] pg_dump of database 'locked' on 127\.0\.0\.1 failed" "$T_ERR" \
	"odd names: its own error is in the run log"
t_imatch 'pg_hba\.conf rejects connection' "$T_ERR" "odd names: in pg_dump's own words"
t_eq "" "$(snapshots "$BASE/odd")" "odd names: no STAMP folder (the backup is incomplete)"
P=$(partial_dirs "$BASE/odd")
t_ne "" "$P" "odd names: the dumps made are kept in STAMP.partial"
SP=${P%.partial}
t_eq "$(printf '%s\n' "%2E.-$SP.sql.gz" "a%2Fb%25c-$SP.sql.gz" "big-$SP.sql.gz" "données-$SP.sql.gz" \
	globals.sql.gz manifest.tsv "$nl_file-$SP.sql.gz" "p1-$SP.sql.gz" "postgres-$SP.sql.gz" \
	"we're db-$SP.sql.gz" | sort)" "$(ls -1 "$BASE/odd/$P" | sort)" \
	"odd names: each database under a safe file name, the roles, the manifest; none for locked"
t_eq "" "$(find "$BASE/odd" -mindepth 2 -type d)" "odd names: no folder made from a name's '/'"
t_eq "$(printf '%s\t%s\n' "%2E.-$SP.sql.gz" .. "a%2Fb%25c-$SP.sql.gz" 'a/b%c' \
	"données-$SP.sql.gz" données "$nl_file-$SP.sql.gz" "$nl_man" | sort)" \
	"$(grep -v "^#" "$BASE/odd/$P/manifest.tsv" | grep -E '^(%|a%|donn|new)' | sort)" \
	"odd names: the manifest maps each file back to its database"
t_ok "odd names: a/b%c's dump loads into a fresh database, equal to its source" \
	restore_check "$BASE/odd/$P/a%2Fb%25c-$SP.sql.gz" 'a/b%c'
t_ok "odd names: données's dump loads into a fresh database, equal to its source" \
	restore_check "$BASE/odd/$P/données-$SP.sql.gz" données

# pg_hba.conf back as it was: every database is dumped, the job is OK.
cp "$TMPD/pg_hba.orig" "$hba"
pq -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
wait_until 30 eval '! locked_out' || t_bail "pg_hba.conf's reject of 'locked' never went away"
wait_next_second
tb_run -c "$CONF" -s odd backup
t_rc 0 "odd names, nothing rejected: exit 0"
S3=$(snapshots "$BASE/odd" | tail -n 1)
t_eq 9 "$(last_row odd total_files_count)" "odd names: every database dumped"
t_eq "$nl_file-$S3.sql.gz	$nl_man" "$(grep -F "$nl_file" "$BASE/odd/$S3/manifest.tsv")" \
	"odd names: the newline database is in the manifest under its escaped name"
# restore --db takes the databases' own names (what the listing shows), not the files'.
tb_run -c "$CONF" -s odd restore --db 'a%2Fb%25c' --to-db scratch
t_rc 1 "odd names: restore --db with the file's name: refused"
t_match "holds no dump of database 'a%2Fb%25c' \(it holds: .*'a/b%c'.*'données'" "$T_ERR" \
	"odd names: the refusal lists the backup's databases by their own names"
tb_run -c "$CONF" -s odd restore --db 'a/b%c' --to-db scratch
t_rc 0 "odd names: restore --db a/b%c --to-db scratch: exit 0"
t_eq "$(pq -d 'a/b%c' -c 'SELECT * FROM t ORDER BY i')" "$(pq -d scratch -c 'SELECT * FROM t ORDER BY i')" \
	"odd names: restore --db a/b%c brought its rows into scratch"
tb_run -c "$CONF" -s odd restore --db "$NL" --to-db nlcopy
t_rc 0 "odd names: restore --db of the newline database (--to-db nlcopy): exit 0"
t_eq 1 "$(pq -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'nlcopy'")" \
	"odd names: the newline database was restored as nlcopy"
pq -d postgres -c 'DROP DATABASE "a/b%c"' >/dev/null
tb_run -c "$CONF" -s odd restore --db 'a/b%c'
t_rc 0 "odd names: restore --db a/b%c after it was dropped: exit 0"
t_eq "$(pq -d scratch -c 'SELECT * FROM t ORDER BY i')" "$(pq -d 'a/b%c' -c 'SELECT * FROM t ORDER BY i')" \
	"odd names: a/b%c is back under its own name with its rows"
tb_run -c "$CONF" -s odd restore --db 'a/b%c'
t_rc 1 "odd names: restore --db a/b%c again, without --replace: refused (the listing finds it)"
t_match "database 'a/b%c' already exists" "$T_ERR" "odd names: the refusal names it"
pq -d postgres -c 'DROP DATABASE scratch' -c 'DROP DATABASE nlcopy' >/dev/null

# ================================================================ compression
# A key whose forced command records the remote command line, then runs it.
reckey() {
	local k=$TMPD/${1}_key
	ssh-keygen -q -t ed25519 -N '' -f "$k" >/dev/null
	printf 'command="%s" %s\n' "$2" "$(cat "$k.pub")" >>"$SSHD_DIR/authorized_keys"
	echo "$k"
}
# gzip header byte 8 (XFL): 04 = zlib's fastest level (1), 02 = its best (9).
xfl() {
	od -An -tx1 -j8 -N1 "$1" | tr -d ' '
}
t_eq 04 "$(xfl "$BASE/all/$S1/p1-$S1.sql.gz")" "default: gzip level 1 (XFL 04)"
k=$(reckey rec 'echo \"$SSH_ORIGINAL_COMMAND\" >>'"$TMPD"'/cmds; eval \"$SSH_ORIGINAL_COMMAND\"')
pgjob nine "db_name = p1" "compression_level = 9" "private_key = $k" "ssh_connection_sharing = no"
pgjob local "db_name = p1" "compress_on = local" "compression_level = 2" "private_key = $k" \
	"ssh_connection_sharing = no"
: >"$TMPD/cmds"
tb_run -c "$CONF" -s nine backup
t_rc 0 "compression_level = 9: exit 0"
SN=$(snapshots "$BASE/nine" | tail -n 1)
t_match "'pg_dump' .*'--compress=9' '--dbname=dbname=.*p1.*'$" "$(grep pg_dump "$TMPD/cmds")" \
	"server side: pg_dump runs with --compress=9"
t_eq 02 "$(xfl "$BASE/nine/$SN/p1-$SN.sql.gz")" "server side: the file is pg_dump's level 9 gzip"
t_ok "server side, level 9: restored equals its source" \
	restore_check "$BASE/nine/$SN/p1-$SN.sql.gz" p1
: >"$TMPD/cmds"
tb_run -c "$CONF" -s local backup
t_rc 0 "compress_on = local: exit 0"
SL=$(snapshots "$BASE/local" | tail -n 1)
t_match "'pg_dump' .*'--dbname=dbname=.*p1.*'$" "$(grep pg_dump "$TMPD/cmds")" "compress_on = local: pg_dump ran"
t_nomatch "compress" "$(grep pg_dump "$TMPD/cmds")" "compress_on = local: no --compress"
t_ok "compress_on = local: gzip -t" gzip -t "$BASE/local/$SL/p1-$SL.sql.gz"
t_ok "compress_on = local: restored equals its source" \
	restore_check "$BASE/local/$SL/p1-$SL.sql.gz" p1
t_eq "$(gzip -dc "$BASE/local/$SL/p1-$SL.sql.gz" | grep -vE '^\\(un)?restrict' | sha256sum)" \
	"$(gzip -dc "$BASE/nine/$SN/p1-$SN.sql.gz" | grep -vE '^\\(un)?restrict' | sha256sum)" \
	"local and server side hold the same SQL"

cfg_global "$TMPD/bad.ini"
cat >>"$TMPD/bad.ini" <<EOF
[badwhere]
type = pgsql+ssh
server_name = 127.0.0.1
private_key = $CLIENT_KEY
compress_on = nowhere

[badlevel]
type = pgsql+ssh
server_name = 127.0.0.1
private_key = $CLIENT_KEY
compression_level = 10
EOF
tb_run -c "$TMPD/bad.ini" -s badwhere backup
t_ne 0 "$T_RC" "compress_on = nowhere: refused"
t_match "compress_on: 'nowhere' is neither 'server' nor 'local'" "$T_OUT$T_ERR" \
	"compress_on = nowhere: the message says why"
t_match "compression_level: 10 is not a gzip level" "$T_OUT$T_ERR" \
	"compression_level = 10: the message says why"

# ================================================================ failures
check_failed() {
	local job=$1 desc=$2 re=$3
	t_rc 1 "$desc: exit 1"
	t_eq ERROR "$(last_row "$job" status)" "$desc: ERROR row"
	t_imatch "$re" "$(last_row "$job" log)" "$desc: the log has the real cause"
	t_eq "" "$(snapshots "$BASE/$job")" "$desc: no STAMP folder"
	t_eq "" "$(partial_dirs "$BASE/$job")" "$desc: no STAMP.partial left"
	t_eq "" "$(find "$BASE/$job" -name '*.partial' 2>/dev/null)" "$desc: no .partial file"
}

tb_run -c "$CONF" -s nodb backup
check_failed nodb "unknown database" 'database "no_such_db" does not exist'
t_nomatch 'could not change directory' "$(last_row nodb log)" "pg_dump runs from / (no cd warning)"

k=$TMPD/nopath_key
ssh-keygen -q -t ed25519 -N '' -f "$k" >/dev/null
printf 'command="PATH=/nonexistent; eval \\"$SSH_ORIGINAL_COMMAND\\"" %s\n' "$(cat "$k.pub")" \
	>>"$SSHD_DIR/authorized_keys"
pgjob notool "db_name = p1" "private_key = $k" "ssh_connection_sharing = no"
tb_run -c "$CONF" -s notool backup
check_failed notool "runuser/pg_dump missing" 'runuser.*not found'

# Exit status 0, but the gzip stream is cut short / followed by garbage.
k=$(reckey cut 'eval \"$SSH_ORIGINAL_COMMAND\" | head -c 300000')
pgjob cut "db_name = big" "private_key = $k" "ssh_connection_sharing = no"
tb_run -c "$CONF" -s cut backup
check_failed cut "gzip stream cut short (exit 0)" "gzip stream received is truncated"
k=$(reckey junk 'eval \"$SSH_ORIGINAL_COMMAND\"; echo trailing junk')
pgjob junk "db_name = p1" "private_key = $k" "ssh_connection_sharing = no"
tb_run -c "$CONF" -s junk backup
check_failed junk "garbage after the gzip stream (exit 0)" "gzip stream received is not valid"
pgjob nodblocal "db_name = no_such_db" "compress_on = local"
tb_run -c "$CONF" -s nodblocal backup
check_failed nodblocal "compress_on = local, unknown database" \
	'database "no_such_db" does not exist'

pgjob midway "db_name = big"
tb_run_bg() {
	timeout -k 5 300 "$TISBACKUP" "$@" >"$TMPD/.out" 2>"$TMPD/.err" </dev/null
	echo $? >"$TMPD/.rc"
}
tb_run_bg -c "$CONF" -s midway backup &
BG=$!
tb_track $BG
grown() {
	local f
	f=$(find "$BASE/midway" -name 'big-*.sql.gz.partial' -size +200k 2>/dev/null | head -n 1)
	[ -n "$f" ]
}
if wait_until 60 grown; then
	asp "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1
	wait $BG
	T_RC=$(cat "$TMPD/.rc")
	T_OUT=$(cat "$TMPD/.out")
	T_ERR=$(cat "$TMPD/.err")
	check_failed midway "server stopped mid-dump" "pg_dump of database .big. on 127\\.0\\.0\\.1 failed"
	t_imatch 'pg_dump: error' "$(last_row midway log)" \
		"server stopped mid-dump: pg_dump's own words are in the log"
else
	wait $BG
	t_fail "the big dump never reached 200 KiB" "$(cat "$TMPD/.err")"
fi
asp "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1

t_eq "$sha_before" "$(cd "$BASE/all/$S1" && sha256sum -- * | sort)" \
	"the first backup's files are untouched by the failures"
t_eq "$S2" "$(snapshots "$BASE/one")" "the db_name backup is untouched"

t_done
