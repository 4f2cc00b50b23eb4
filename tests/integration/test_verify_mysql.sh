#!/usr/bin/env bash
#
# tisbackup verify of mysql+ssh dumps (docs/restore.md, "Verify") against
# a real MariaDB on loopback: each dump of the newest good backup is
# streamed into a scratch database as a password-authenticated verify user
# ([verify] mysql_url and mysql_password_file of the gui config), counted
# (exact rows per table, objects) and dropped:
#  - a good dump passes (VERIFY row OK, counts kept);
#  - a dump that lost a table, or whose table shrank past
#    verify_shrink_warn, is a WARNING naming them;
#  - a flipped byte in the .sql.gz fails (VERIFY row ERROR);
#  - a dump that switches to another database (USE) cannot touch it;
#  - no scratch database and no password file are left after any outcome;
#  - the password is in no argv or environ (/proc sampled during the run);
#  - a database whose name is not a safe file name ("a/b%c", percent-encoded
#    in its dump's file name, decoded by the manifest) is counted under the
#    name restore gives it, and the counts an earlier version wrote under
#    the file name are read under that name too.

# Literal SQL; T_* are read by lib.sh.
# shellcheck disable=SC2016,SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip
for t in mariadbd mariadb-install-db mariadb mysqldump mysql; do
	command -v "$t" >/dev/null 2>&1 || { t_skip "verify of mysql dumps" "$t is not installed"; t_done; exit 0; }
done
tb_tmp
# verify's private folders go to $TMPDIR (this test's own, so tests beside
# it never see them, and the checks below prove TMPDIR is honoured).
export TMPDIR=$TMPD/tmp
mkdir -p "$TMPDIR"
sshd_start
mariadb_start || t_bail "could not start MariaDB"
myq() { mariadb --no-defaults -S "$MYSOCK" -uroot -N -B "$@"; }

SECRET="vEr1fy-$RANDOM-s3\"cr'et\\x"
BPW="backup-$RANDOM-pw"
myq <<SQL || t_bail "creating the test data failed"
CREATE USER 'verifier'@'127.0.0.1' IDENTIFIED BY '$(printf '%s' "$SECRET" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")';
GRANT ALL ON *.* TO 'verifier'@'127.0.0.1';
CREATE USER 'tbuser'@'127.0.0.1' IDENTIFIED BY '$BPW';
GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, EXECUTE, RELOAD, PROCESS ON *.* TO 'tbuser'@'127.0.0.1';
CREATE DATABASE shop;
CREATE TABLE shop.items (id INT PRIMARY KEY, s TEXT);
INSERT INTO shop.items SELECT seq, CONCAT('item ', seq) FROM shop.seq_1_to_1000;
CREATE TABLE shop.orders (id INT PRIMARY KEY);
INSERT INTO shop.orders SELECT seq FROM shop.seq_1_to_50;
CREATE TABLE \`shop\`.\`odd\`\`name\` (i INT);
INSERT INTO \`shop\`.\`odd\`\`name\` VALUES (1), (2), (3);
USE shop;
CREATE VIEW v AS SELECT id FROM items WHERE id > 10;
CREATE PROCEDURE p() SELECT COUNT(*) FROM items;
CREATE TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW SET NEW.id = NEW.id;
CREATE DATABASE \`a/b%c\`;
CREATE TABLE \`a/b%c\`.t (i INT);
INSERT INTO \`a/b%c\`.t SELECT seq FROM shop.seq_1_to_5;
SQL
printf '%s\n' "$SECRET" >"$TMPD/verify.pw"
chmod 600 "$TMPD/verify.pw"
GUI=$TMPD/gui.ini
cat >"$GUI" <<EOF2
[verify]
mysql_url = mysql://verifier@127.0.0.1:$MYPORT
mysql_password_file = $TMPD/verify.pw
EOF2

cfg_global "$CONF"
job_section "$CONF" my "type = mysql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
	"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = shop" \
	"db_user = tbuser" "db_passwd = $BPW" "db_host = 127.0.0.1" "db_port = $MYPORT" \
	"verify = yes" "verify_shrink_warn = 20"
job_section "$CONF" odd "type = mysql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
	"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = a/b%c" \
	"db_user = tbuser" "db_passwd = $BPW" "db_host = 127.0.0.1" "db_port = $MYPORT" \
	"verify = yes" "verify_shrink_warn = 20"
scratch_dbs() { myq -e "SHOW DATABASES LIKE 'tisbackup_verify%'"; }

tb_run -c "$CONF" -s my backup
t_rc 0 "mysql: backup OK"
gz=$(ls "$BASE"/my/2*/*.sql.gz | tail -n 1)
t_eq "" "$(gzip -dc "$gz" | grep -E '^(USE|CREATE DATABASE)')" "the driver's dumps hold no USE nor CREATE DATABASE"

# --- a good dump, with the argv and environ of every process sampled meanwhile
t_proc_scan_control "$TMPD/verify.pw"
(
	while :; do
		proc_scan "$TMPD/verify.pw" >>"$TMPD/leak"
		ls -d "$TMPDIR"/tisbackup-verify-* >>"$TMPD/privdirs" 2>/dev/null
	done
) &
SAMPLER=$!
tb_track "$SAMPLER"
tb_run -c "$CONF" --gui-config "$GUI" -s my verify
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
t_rc 0 "verify of a good mysql dump: exit 0"
t_eq "VERIFY|OK" "$(last_row my "TYPE || '|' || status")" "verify: a VERIFY row, OK"
t_match "^1 dump\(s\) of .* load; 3 tables, 1053 rows$" "$(last_row my log)" "verify: the row counts tables and rows"
t_eq "# tisbackup verify-counts 2
shop/#objects	6
shop/items	1000
shop/odd\`name	3
shop/orders	50" "$(LC_ALL=C sort "$BASE/my/.verify-counts")" "verify: exact per-table counts and objects (tables, view, routine, trigger) kept"
t_eq "" "$(scratch_dbs)" "verify OK: the scratch database is dropped"
t_ok "verify: the password is in no argv and no environ" test ! -s "$TMPD/leak"
t_ok "verify: a private folder held the option file meanwhile" test -s "$TMPD/privdirs"
t_eq "" "$(ls -d "$TMPDIR"/tisbackup-verify-* 2>/dev/null)" "verify: the option file and its folder are removed"

# --- a database name that is not a file name: counted under restore's name
tb_run -c "$CONF" -s odd backup
t_rc 0 "mysql a/b%c: backup OK"
t_eq "a%2Fb%25c.sql.gz" "$(basename "$(ls "$BASE"/odd/2*/*.sql.gz)")" "mysql a/b%c: the dump's file name is percent-encoded"
tb_run -c "$CONF" -s odd restore --db nosuch --to-db x
t_match "it holds: 'a/b%c'" "$T_ERR" "mysql a/b%c: restore names the database a/b%c"
tb_run -c "$CONF" --gui-config "$GUI" -s odd verify
t_rc 0 "verify of a/b%c: exit 0"
t_eq "# tisbackup verify-counts 2
a/b%c/#objects	1
a/b%c/t	5" "$(LC_ALL=C sort "$BASE/odd/.verify-counts")" "verify of a/b%c: counted under the name restore gives it"
# The counts an earlier version wrote: keys from the file name, no header.
printf 'a%%2Fb%%25c/#objects\t1\na%%2Fb%%25c/t\t10\n' >"$BASE/odd/.verify-counts"
tb_run -c "$CONF" --gui-config "$GUI" -s odd verify
t_rc 0 "verify of a/b%c after an earlier version's counts: exit 0"
log=$(last_row odd log)
t_match "table a/b%c/t shrank from 10 to 5 rows" "$log" "verify: the earlier version's key a%2Fb%25c is read as a/b%c"
t_nomatch "gone" "$log" "verify: no table of the earlier counts is taken for gone"
t_eq "# tisbackup verify-counts 2
a/b%c/#objects	1
a/b%c/t	5" "$(LC_ALL=C sort "$BASE/odd/.verify-counts")" "verify: the counts are rewritten under restore's names"

# --- a table shrank past 20 % and one is gone: a warning
myq -e "DELETE FROM shop.items WHERE id > 500; DROP TABLE shop.orders"
tb_run -c "$CONF" -s my backup
t_rc 0 "mysql: second backup OK"
tb_run -c "$CONF" --gui-config "$GUI" -s my verify
t_rc 0 "verify of a dump that lost data: exit 0 (it loads)"
log=$(last_row my log)
t_match "^WARNING: " "$log" "verify: lost data is a WARNING"
t_match "table shop/items shrank from 1000 to 500 rows" "$log" "verify: the shrunk table is named"
t_match "table shop/orders is gone \(had 50 rows\)" "$log" "verify: the lost table is named"
t_eq "" "$(scratch_dbs)" "verify WARNING: the scratch database is dropped"

# --- a corrupted dump (one byte flipped): ERROR
gz=$(ls "$BASE"/my/2*/*.sql.gz | tail -n 1)
cp "$gz" "$TMPD/good.sql.gz"
size=$(stat -c %s "$gz")
off=$((size / 2))
b=$(od -An -tu1 -j "$off" -N1 "$gz" | tr -d ' ')
printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$gz" bs=1 seek="$off" conv=notrunc status=none
tb_run -c "$CONF" --gui-config "$GUI" -s my verify
t_rc 1 "verify of a corrupted mysql dump: exit 1"
t_eq "VERIFY|ERROR" "$(last_row my "TYPE || '|' || status")" "verify: the corrupted dump is an ERROR row"
t_match "damaged|invalid|incorrect|error" "$(last_row my log)" "verify: the row says the dump is damaged"
t_eq "" "$(scratch_dbs)" "verify ERROR: no scratch database left"
t_eq "" "$(ls -d "$TMPDIR"/tisbackup-verify-* 2>/dev/null)" "verify ERROR: no option file left"

# --- a dump that switches to the real database cannot touch it
printf 'CREATE TABLE a (i INT);\nUSE shop;\nDROP TABLE items;\n' | gzip >"$gz"
tb_run -c "$CONF" --gui-config "$GUI" -s my verify
t_eq "500" "$(myq -e 'SELECT COUNT(*) FROM shop.items')" "verify: a USE in a dump never reaches the real database"
t_eq "" "$(scratch_dbs)" "verify of a USE dump: no scratch database left"

# --- a dump that inflates but does not load: ERROR, scratch dropped
printf 'CREATE TABLE x (id INT);\nTHIS IS NOT SQL;\n' | gzip >"$gz"
tb_run -c "$CONF" --gui-config "$GUI" -s my verify
t_rc 1 "verify of a mysql dump that does not load: exit 1"
t_match "SQL syntax" "$(last_row my log)" "verify: the row has mysql's error"
t_eq "" "$(scratch_dbs)" "verify of a bad load: the scratch database is dropped"

# --- no verify server configured: a clear error
tb_run -c "$CONF" --gui-config "$TMPD/none.ini" -s my verify
t_rc 1 "verify without [verify] mysql_url: exit 1"
t_match "mysql_url" "$(last_row my log)" "verify without a server: the row names the key"

t_done
