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
t_eq "$(printf '%s\n' "big-$S1.sql.gz" globals.sql.gz "p1-$S1.sql.gz" "postgres-$S1.sql.gz" "we're db-$S1.sql.gz")" \
	"$(ls -1 "$BASE/all/$S1" | sort)" "one DB-STAMP.sql.gz per non-template database, and globals.sql.gz"
t_match "CREATE ROLE postgres;" "$(gzip -dc "$BASE/all/$S1/globals.sql.gz")" \
	"globals.sql.gz holds the roles (pg_dumpall --globals-only)"
t_eq "" "$(partial_dirs "$BASE/all")" "no STAMP.partial left"
t_eq "$BASE/all/$S1" "$(last_row all backup_location)" "backup_location is the STAMP folder"
t_eq 4 "$(last_row all total_files_count)" "total_files = number of databases"
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
t_eq "$(printf '%s\n' globals.sql.gz "we're db-$S2.sql.gz")" "$(ls -1 "$BASE/one/$S2" | sort)" \
	"db_name: only that database (and the roles)"
t_match "^SET client_encoding = 'LATIN1';" "$(gzip -dc "$BASE/one/$S2/we're db-$S2.sql.gz")" \
	"encoding = LATIN1 reaches pg_dump"

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
t_match "'pg_dump' .*'--compress=9' '--' 'p1'" "$(grep pg_dump "$TMPD/cmds")" \
	"server side: pg_dump runs with --compress=9"
t_eq 02 "$(xfl "$BASE/nine/$SN/p1-$SN.sql.gz")" "server side: the file is pg_dump's level 9 gzip"
t_ok "server side, level 9: restored equals its source" \
	restore_check "$BASE/nine/$SN/p1-$SN.sql.gz" p1
: >"$TMPD/cmds"
tb_run -c "$CONF" -s local backup
t_rc 0 "compress_on = local: exit 0"
SL=$(snapshots "$BASE/local" | tail -n 1)
t_match "'pg_dump' .*'--' 'p1'" "$(grep pg_dump "$TMPD/cmds")" "compress_on = local: pg_dump ran"
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
