#!/usr/bin/env bash
#
# tisbackup verify (docs/restore.md, "Verify") against a real PostgreSQL
# on loopback: a pgsql+ssh backup is loaded into a scratch database as a
# password-authenticated verify user ([verify] pgsql_url and
# pgsql_password_file of the gui config), counted and dropped:
#  - a good dump passes (VERIFY row OK, per-table counts kept);
#  - a dump that lost a table, or whose table shrank past
#    verify_shrink_warn, is a WARNING in the row's log;
#  - a corrupted dump (a flipped byte) fails (VERIFY row ERROR);
#  - the scratch database is gone after every outcome;
#  - the dump is streamed into psql's stdin (nothing inflated into /tmp);
#  - the password is in no argv and no environment (every
#    /proc/*/cmdline and environ sampled), its 0600 file is gone after.

# Literal SQL; T_* are read by lib.sh.
# shellcheck disable=SC2016,SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip
tb_tmp
# verify's private folders go to $TMPDIR (this test's own, so tests beside
# it never see them, and the checks below prove TMPDIR is honoured).
export TMPDIR=$TMPD/tmp
mkdir -p "$TMPDIR"
pg_find && pg_start || { t_skip "verify" "PostgreSQL is missing"; t_done; exit 0; }
sshd_start

pq() { runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"; }
SECRET="vEr1fy-$RANDOM-s3cret"
pq -d postgres <<SQL >/dev/null || t_bail "creating the PostgreSQL test data failed"
CREATE ROLE verifier LOGIN SUPERUSER PASSWORD '$SECRET';
CREATE DATABASE shop;
\c shop
CREATE TABLE items (id int PRIMARY KEY, s text);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g;
CREATE TABLE orders (id int PRIMARY KEY);
INSERT INTO orders SELECT g FROM generate_series(1, 50) g;
SQL
# the verify user logs in with its password over the socket (peer for the others)
sed -i '1i local all verifier scram-sha-256' "$PG/data/pg_hba.conf"
pq -d postgres -c "SELECT pg_reload_conf()" >/dev/null
printf '%s\n' "$SECRET" >"$TMPD/verify.pw"
chmod 600 "$TMPD/verify.pw"
GUI=$TMPD/gui.ini
cat >"$GUI" <<EOF2
[verify]
pgsql_url = postgresql://verifier@/?host=$PG/sock&port=$PGPORT
pgsql_password_file = $TMPD/verify.pw
EOF2

cfg_global "$CONF"
job_section "$CONF" pg "type = pgsql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
	"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = shop" \
	"db_host = $PG/sock" "db_port = $PGPORT" "verify = yes" "verify_shrink_warn = 20"
scratch_dbs() { pq -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'tisbackup_verify%'"; }

tb_run -c "$CONF" -s pg backup
t_rc 0 "pgsql: backup OK"

tb_run -c "$CONF" -s pg checknagios
t_rc 1 "checknagios: a backup never verified is a WARNING"
t_match "pg has no successful verify in the last 168 h" "$T_OUT" "checknagios: the warning names verify_max_age"

# --- a good dump, with the cmdline of every process sampled meanwhile
t_proc_scan_control "$TMPD/verify.pw"
(
	while :; do
		proc_scan "$TMPD/verify.pw" >>"$TMPD/leak"
		ls -d "$TMPDIR"/tisbackup-verify-* >>"$TMPD/privdirs" 2>/dev/null
	done
) &
SAMPLER=$!
tb_track "$SAMPLER"
tb_run -c "$CONF" --gui-config "$GUI" -s pg verify
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
t_rc 0 "verify of a good dump: exit 0"
t_eq "VERIFY|OK" "$(last_row pg "TYPE || '|' || status")" "verify: a VERIFY row, OK"
t_match "^1 dump\(s\) of .* load; 2 tables, 1050 rows$" "$(last_row pg log)" "verify: the row counts tables and rows"
t_eq "# tisbackup verify-counts 2
shop/#objects	4
shop/public.items	1000
shop/public.orders	50" "$(LC_ALL=C sort "$BASE/pg/.verify-counts")" "verify: per-table counts and objects kept"
t_eq "" "$(scratch_dbs)" "verify OK: the scratch database is dropped"
t_ok "verify: the password is in no argv and no environ" test ! -s "$TMPD/leak"
t_ok "verify: a private folder held the password file meanwhile" test -s "$TMPD/privdirs"
t_eq "" "$(ls -d "$TMPDIR"/tisbackup-verify-* 2>/dev/null)" "verify: the password file and its folder are removed"
tb_run -c "$CONF" -s pg checknagios
t_rc 0 "checknagios: OK after a successful verify"

# --- a table shrank past 20 % and one is gone: a warning
pq -d shop -c "DELETE FROM items WHERE id > 500; DROP TABLE orders" >/dev/null
tb_run -c "$CONF" -s pg backup
t_rc 0 "pgsql: second backup OK"
tb_run -c "$CONF" --gui-config "$GUI" -s pg verify
t_rc 0 "verify of a dump that lost data: exit 0 (it loads)"
log=$(last_row pg log)
t_match "^WARNING: " "$log" "verify: lost data is a WARNING"
t_match "table shop/public.items shrank from 1000 to 500 rows" "$log" "verify: the shrunk table is named"
t_match "table shop/public.orders is gone \(had 50 rows\)" "$log" "verify: the lost table is named"
t_eq "" "$(scratch_dbs)" "verify WARNING: the scratch database is dropped"

# --- a corrupted dump (one byte flipped): ERROR
tb_run -c "$CONF" --gui-config "$GUI" -s pg verify
t_eq "" "$(last_row pg log | grep WARNING)" "verify: counts compared with the previous verify (no new warning)"
gz=$(ls "$BASE"/pg/2*/shop-*.sql.gz | tail -n 1)
size=$(stat -c %s "$gz")
off=$((size / 2))
b=$(od -An -tu1 -j "$off" -N1 "$gz" | tr -d ' ')
printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$gz" bs=1 seek="$off" conv=notrunc status=none
tb_run -c "$CONF" --gui-config "$GUI" -s pg verify
t_rc 1 "verify of a corrupted dump: exit 1"
t_eq "VERIFY|ERROR" "$(last_row pg "TYPE || '|' || status")" "verify: the corrupted dump is an ERROR row"
t_match "damaged|invalid|incorrect|error" "$(last_row pg log)" "verify: the row says the dump is damaged"
t_eq "" "$(scratch_dbs)" "verify ERROR: no scratch database left"
t_eq "" "$(ls -d "$TMPDIR"/tisbackup-verify-* 2>/dev/null)" "verify ERROR: no password file left"
tb_run -c "$CONF" -s pg checknagios
t_rc 2 "checknagios: CRITICAL when the last verify failed"
t_match "CRITICAL : the last verify of pg failed" "$T_OUT" "checknagios: the verdict says the verify failed"

# --- a dump that inflates but does not load: ERROR, scratch dropped
printf 'CREATE TABLE x (id int);\nTHIS IS NOT SQL;\n' | gzip >"$gz"
tb_run -c "$CONF" --gui-config "$GUI" -s pg verify
t_rc 1 "verify of a dump that does not load: exit 1"
t_match "syntax error" "$(last_row pg log)" "verify: the row has psql's error"
t_eq "" "$(scratch_dbs)" "verify of a bad load: the scratch database is dropped"

# --- no verify server configured: a clear error
tb_run -c "$CONF" --gui-config "$TMPD/none.ini" -s pg verify
t_rc 1 "verify without [verify] pgsql_url: exit 1"
t_match "pgsql_url" "$(last_row pg log)" "verify without a server: the row names the key"

t_done
