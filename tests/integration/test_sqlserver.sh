#!/usr/bin/env bash
#
# sqlserver+ssh (SPEC §10) against stand-in `sqlcmd` and `osql` put first
# on the PATH of the lib.sh sshd's sessions. The stand-ins parse their
# arguments as the real tools do, check the BACKUP DATABASE statement,
# the server name and the login (sqlcmd: the password only from
# SQLCMDPASSWORD, -P refused), write a .bak into remote_backup_dir and
# report errors as SQL Server does (exit 1 only with -b). Checked: the
# layout {job}/STAMP/DB-STAMP.bak.gz holding exactly the .bak, the .bak
# removed from the "server" in every outcome, the password in no
# /proc/*/cmdline (sqlcmd), osql's warning, and failures giving ERROR rows
# with the tool's own words, no STAMP folder, no .partial, earlier backups
# untouched.

# Listings of our own plain names; literal shell text in heredocs.
# shellcheck disable=SC2010,SC2012,SC2016
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip sha256sum cmp
tb_tmp
sshd_start

STUB=$TMPD/stub
mkdir -p "$STUB"
sshd_stop
sshd_setenv "PATH=$STUB:/usr/local/bin:/usr/bin:/bin"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
tb_track "$SSHD_PID"
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"

PW='s3cr€t p@ss "w0rd" $(x) '\''q'\'' -P'
printf '%s\n' "$PW" >"$STUB/password"
printf '%s\n' "WINSRV\\SQLEXPRESS" >"$STUB/server"
printf '%s\n' master sales "we're ]db" >"$STUB/databases"

# One script for both tools; $0 tells which. Markers in $STUB: fail
# (message of a failing BACKUP), nobak (report success, write nothing).
cat >"$STUB/sqlcmd" <<'EOF'
#!/bin/sh
d=$(dirname "$0")
tool=$(basename "$0")
name=Sqlcmd
[ "$tool" = osql ] && name=osql
S= dbn= E=0 U= P= Q= b=0 r=0 hasP=0
while [ $# -gt 0 ]; do
	case $1 in
	-E) E=1; shift; continue ;;
	-b) b=1; shift; continue ;;
	-r1) [ "$tool" = sqlcmd ] || { echo "$name: unknown option r" ; exit 1; }; r=1; shift; continue ;;
	-S | -d | -U | -P | -Q)
		if [ $# -lt 2 ]; then
			echo "$name: '$1': Missing argument. Enter '-?' for help." >&2
			exit 1
		fi
		opt=$1 val=$2
		shift 2 ;;
	*)
		echo "$name: '$1': Unknown Option. Enter '-?' for help." >&2
		exit 1 ;;
	esac
	case $opt in
	-S) S=$val ;;
	-d) dbn=$val ;;
	-U) U=$val ;;
	-P) P=$val hasP=1 ;;
	-Q) Q=$val ;;
	esac
done
printf '%s|S=%s|d=%s|E=%s|U=%s|b=%s|r=%s|Q=%s\n' "$tool" "$S" "$dbn" "$E" "$U" "$b" "$r" "$Q" >>"$d/calls"
# Where messages go: sqlcmd -r1 -> stderr, otherwise stdout.
msg() {
	if [ $r = 1 ]; then printf '%s\n' "$@" >&2; else printf '%s\n' "$@"; fi
}
if [ "$tool" = sqlcmd ] && [ $hasP = 1 ]; then
	echo "tisbackup test: sqlcmd -P: the password is on the command line" >&2
	exit 1
fi
if [ $E = 1 ] && [ -n "$U" ]; then
	echo "$name: The -E and the -U/-P options are mutually exclusive." >&2
	exit 1
fi
if [ "$S" != "$(cat "$d/server")" ]; then
	msg "$name: Error: Microsoft ODBC Driver 17 for SQL Server : Login timeout expired."
	exit 1
fi
if [ -n "$U" ]; then
	if [ "$tool" = sqlcmd ]; then pw=${SQLCMDPASSWORD-}; else pw=$P; fi
	if [ "$U" != sa ] || [ "$pw" != "$(cat "$d/password")" ]; then
		msg "Msg 18456, Level 14, State 1, Server $S, Line 1" "Login failed for user '$U'."
		exit 1
	fi
elif [ $E != 1 ]; then
	msg "$name: no login given"
	exit 1
fi
sleep 1
pre="BACKUP DATABASE ["
mid="] TO DISK = N'"
post="' WITH FORMAT"
case $Q in
"$pre"*"$mid"*"$post") ;;
*)
	msg "Msg 102, Level 15, State 1, Server $S, Line 1" "Incorrect syntax near '$Q'."
	exit $b ;;
esac
rest=${Q#"$pre"}
db=$(printf '%s' "${rest%%"$mid"*}" | sed 's/]]/]/g')
path=${rest#*"$mid"}
path=$(printf '%s' "${path%"$post"}" | sed "s/''/'/g")
if ! grep -qxF -- "$db" "$d/databases"; then
	msg "Msg 911, Level 16, State 11, Server $S, Line 1" \
		"Database '$db' does not exist. Make sure that the name is entered correctly." \
		"Msg 3013, Level 16, State 1, Server $S, Line 1" "BACKUP DATABASE is terminating abnormally."
	exit $b
fi
echo "$path" >>"$d/baks"
[ -f "$d/nobak" ] && { echo "Processed 0 pages for database '$db'."; exit 0; }
{
	printf 'TAPE\0\0\0\0MSSQLSERVER %s\n' "$db"
	head -c 300000 /dev/urandom
	head -c 1500000 /dev/zero
	i=0
	while [ $i -lt 2000 ]; do printf 'page %06d of %s\n' $i "$db"; i=$((i + 1)); done
} >"$path" || exit 1
cp "$path" "$d/last.bak"
if [ -f "$d/fail" ]; then
	msg "Msg 3201, Level 16, State 1, Server $S, Line 1" "$(cat "$d/fail")" \
		"Msg 3013, Level 16, State 1, Server $S, Line 1" "BACKUP DATABASE is terminating abnormally."
	exit $b
fi
echo "Processed 360 pages for database '$db', file '$db' on file 1."
echo "BACKUP DATABASE successfully processed 362 pages in 0.101 seconds (27.962 MB/sec)."
EOF
chmod 755 "$STUB/sqlcmd"
cp "$STUB/sqlcmd" "$STUB/osql"

WIN="$TMPD/win bak's"
mkdir -p "$WIN"
# remote_baks: .bak files still on the "server".
remote_baks() {
	ls -1 "$WIN" 2>/dev/null
}

cfg_global "$CONF"
# sjob NAME [key = value...]
sjob() {
	local name=$1
	shift
	{
		echo "[$name]"
		echo "type = sqlserver+ssh"
		echo "server_name = 127.0.0.1"
		echo "ssh_port = $SSHD_PORT"
		echo "private_key = $CLIENT_KEY"
		echo "known_hosts_file = $KNOWN_HOSTS"
		echo "remote_backup_dir = $WIN"
		echo "db_server_name = WINSRV\\SQLEXPRESS"
		printf '%s\n' "$@"
		echo
	} >>"$CONF"
}
sjob trusted "db_name = sales"
sjob login "db_name = we're ]db" "db_user = sa" "db_password = $PW" "username = root"
sjob old "db_name = sales" "db_user = sa" "db_password = $PW" "sqlserver_before_2005 = yes"
sjob nodb "db_name = nosuch" "sqlserver_before_2005 = true"
sjob badpw "db_name = sales" "db_user = sa" "db_password = wrong"

t_match '^sqlserver\+ssh : ' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" "listdrivers shows sqlserver+ssh"

# ================================================================ config
BADCONF=$TMPD/bad.ini
cfg_global "$BADCONF"
printf '[u]\ntype = sqlserver+ssh\nserver_name = h\nprivate_key = %s\ndb_name = x\nusername = Administrateur\n\n' \
	"$CLIENT_KEY" >>"$BADCONF"
# The original's username (its ssh login) is the login when remote_user is unset.
printf '[u2]\ntype = sqlserver+ssh\nserver_name = 127.0.0.1\nssh_port = %s\nprivate_key = %s\nknown_hosts_file = %s\ndb_name = x\nusername = Administrateur\n\n' \
	"$SSHD_PORT" "$CLIENT_KEY" "$KNOWN_HOSTS" >>"$BADCONF"
tb_run -c "$BADCONF" -s u -d backup
t_rc 0 "username without remote_user: accepted"
tb_run -c "$BADCONF" -s u2 backup
t_rc 1 "username without remote_user: the run logs in as that user (none here: fails)"
t_ok "username without remote_user: sshd saw a login attempt as Administrateur" \
	grep -q "Invalid user Administrateur" "$SSHD_LOG"
printf '[v]\ntype = sqlserver+ssh\nserver_name = h\nprivate_key = %s\ndb_name = x\nusername = Administrateur\nremote_user = root\n\n' \
	"$CLIENT_KEY" >>"$BADCONF"
tb_run -c "$BADCONF" -s v backup
t_ne 0 "$T_RC" "username other than remote_user: refused"
t_match 'username.*remote_user' "$T_ERR" "username: the message says to set remote_user"

# ================================================================ trusted (-E)
tb_run -c "$CONF" -s trusted backup
t_rc 0 "trusted: exit 0"
t_eq OK "$(last_row trusted status)" "trusted: OK row"
S1=$(snapshots "$BASE/trusted" | tail -n 1)
t_ne "" "$S1" "trusted: a STAMP folder"
t_eq "sales-$S1.bak.gz" "$(ls -1 "$BASE/trusted/$S1")" "trusted: DB-STAMP.bak.gz in it"
t_ok "trusted: the file is the .bak" cmp -s "$STUB/last.bak" <(gzip -dc "$BASE/trusted/$S1/sales-$S1.bak.gz")
t_eq "$WIN/sales-$S1.bak" "$(tail -n 1 "$STUB/baks")" "trusted: the .bak went to remote_backup_dir/DB-STAMP.bak"
t_eq "sqlcmd|S=WINSRV\\SQLEXPRESS|d=master|E=1|U=|b=1|r=1|Q=BACKUP DATABASE [sales] TO DISK = N'${WIN//\'/\'\'}/sales-$S1.bak' WITH FORMAT" \
	"$(tail -n 1 "$STUB/calls")" "trusted: sqlcmd -S -d master -E -b -r1 -Q, quotes doubled"
t_eq "" "$(remote_baks)" "trusted: the .bak is removed from the server"
t_eq "$BASE/trusted/$S1" "$(last_row trusted backup_location)" "trusted: backup_location is the STAMP folder"
t_eq 1 "$(last_row trusted total_files_count)" "trusted: 1 file"
t_eq "$(wc -c <"$BASE/trusted/$S1/sales-$S1.bak.gz")" "$(last_row trusted written_bytes)" \
	"trusted: written_bytes = compressed bytes"
t_match "^sqlserver backup of database 'sales' from 127\\.0\\.0\\.1 OK" "$(last_row trusted log)" \
	"trusted: catalog log line"
sha_before=$(sha256sum "$BASE/trusted/$S1/sales-$S1.bak.gz")

# ================================================================ SQL login, password sentinel
printf '%s\n' "$PW" >"$TMPD/pwpat"
# scan_start / scan_stop: record in $TMPD/seen every /proc/*/cmdline
# holding the password meanwhile (grep -f: not in grep's own argv).
scan_start() {
	: >"$TMPD/seen"
	rm -f "$TMPD/stopscan"
	(
		while [ ! -e "$TMPD/stopscan" ]; do
			grep -l -a -F -f "$TMPD/pwpat" /proc/[0-9]*/cmdline 2>/dev/null >>"$TMPD/seen"
			sleep 0.05
		done
	) &
	SCAN=$!
	tb_track "$SCAN"
}
scan_stop() {
	touch "$TMPD/stopscan"
	wait "$SCAN"
}
scan_start
tb_run -c "$CONF" -s login backup
scan_stop
t_rc 0 "SQL login: exit 0"
S2=$(snapshots "$BASE/login" | tail -n 1)
t_eq "we're ]db-$S2.bak.gz" "$(ls -1 "$BASE/login/$S2")" "SQL login: odd database name as file name"
t_match "^sqlcmd\\|.*\\|E=0\\|U=sa\\|b=1\\|r=1\\|Q=BACKUP DATABASE \\[we're \\]\\]db\\] TO DISK = N'.*/win bak''s/we''re \\]db-$S2\\.bak' WITH FORMAT\$" \
	"$(tail -n 1 "$STUB/calls")" "SQL login: -U sa, ] and ' escaped"
t_eq "" "$(sort -u "$TMPD/seen")" "SQL login: the password is in no /proc/*/cmdline"
t_eq "" "$(remote_baks)" "SQL login: the .bak is removed"
t_nomatch 'password variable|command line' "$T_ERR" "sqlcmd: no password-on-the-command-line warning"

# ================================================================ osql
scan_start
tb_run -c "$CONF" -s old backup
scan_stop
t_rc 0 "osql: exit 0"
t_match '^osql\|.*\|E=0\|U=sa\|b=1\|r=0\|' "$(tail -n 1 "$STUB/calls")" "osql: -U sa -b, no -r1"
t_match "osql has no password variable" "$T_ERR" "osql: warns that the password is on its command line"
t_ne "" "$(cat "$TMPD/seen")" "osql: the sentinel does see osql's -P (so it works)"
S3=$(snapshots "$BASE/old" | tail -n 1)
t_ok "osql: the file is the .bak" cmp -s "$STUB/last.bak" <(gzip -dc "$BASE/old/$S3/sales-$S3.bak.gz")

# ================================================================ failures
check_failed() {
	local job=$1 desc=$2 re=$3 n=$4
	t_rc 1 "$desc: exit 1"
	t_eq ERROR "$(last_row "$job" status)" "$desc: ERROR row"
	t_imatch "$re" "$(last_row "$job" log)" "$desc: the log has the tool's own words"
	t_eq "$n" "$(snapshots "$BASE/$job" | wc -l)" "$desc: no new STAMP folder"
	t_eq "" "$(find "$BASE/$job" -name '*.partial')" "$desc: no .partial left"
	t_eq "" "$(remote_baks)" "$desc: no .bak left on the server"
}

wait_next_second
echo "Cannot open backup device 'X'. Operating system error 112(There is not enough space on the disk.)." >"$STUB/fail"
tb_run -c "$CONF" -s trusted backup
check_failed trusted "BACKUP fails" 'not enough space on the disk' 1
t_imatch 'sqlcmd BACKUP DATABASE \[sales\] on 127\.0\.0\.1' "$(last_row trusted log)" "BACKUP fails: says what failed"
rm -f "$STUB/fail"

wait_next_second
tb_run -c "$CONF" -s nodb backup
check_failed nodb "unknown database (osql, stdout)" "Database 'nosuch' does not exist" 0

wait_next_second
tb_run -c "$CONF" -s badpw backup
check_failed badpw "wrong password" "Login failed for user 'sa'" 0

wait_next_second
touch "$STUB/nobak"
tb_run -c "$CONF" -s trusted backup
check_failed trusted "no .bak written" 'No such file' 1
rm -f "$STUB/nobak"

t_eq "$sha_before" "$(sha256sum "$BASE/trusted/$S1/sales-$S1.bak.gz")" "the first backup is untouched"

# ================================================================ dry run
wait_next_second
n=$(wc -l <"$STUB/calls")
tb_run -c "$CONF" -s trusted -d backup
t_rc 0 "dry run: exit 0"
t_eq "$n" "$(wc -l <"$STUB/calls")" "dry run: sqlcmd not run"
t_eq 1 "$(snapshots "$BASE/trusted" | wc -l)" "dry run: no folder"

t_done
