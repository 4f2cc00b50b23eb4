#!/usr/bin/env bash
#
# oracle+ssh (SPEC §10) through the lib.sh sshd, with a stand-in `exp`
# first on the remote PATH (sshd's SetEnv) run as `nobody` (the
# username key): it parses its arguments and parameter file as exp does,
# refuses a userid on its command line, checks ORACLE_SID, and writes a
# dump and a realistic log, clean, with an EXP-00091 warning, with an
# EXP-00056/ORA-01017 logon failure, or crashes with exit 1, as a control
# file says. Checks the files ({job}/STAMP/DB.dmp.gz, DB.log), the remote
# temp folder removed in every outcome, ignore_error_oracle_code, the
# password never in an argv, an environment or a file left on the
# server, and an unknown user.

# Literal remote/shell text; T_* are read by lib.sh.
# shellcheck disable=SC2010,SC2012,SC2016,SC2034,SC2119,SC2153
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip runuser sha256sum cmp
tb_tmp
sshd_start

BIN=$TMPD/orabin
CTL=$TMPD/ctl
RBD=$TMPD/remote_backup
mkdir -p "$BIN" "$CTL" "$RBD"
chmod 777 "$CTL"
chmod 1777 "$RBD"
PW="S3ntinel-pw-$TB_ID-x"
USERID="system/$PW"
printf '%s' "$USERID" | sha256sum | cut -d' ' -f1 >"$CTL/userid.sha"
echo ORCL >"$CTL/sid"
echo ok >"$CTL/mode"
# A dump that looks like exp's: its header, then binary data.
{
	printf '\003\001\023EXPORT:V11.02.00\nDSYSTEM\nRENTIRE\n2048\n0\n72\n0\n'
	head -c 300000 /dev/urandom
} >"$CTL/blob"
chmod 644 "$CTL"/*

cat >"$BIN/exp" <<'EOF'
#!/bin/bash
# Stand-in for Oracle's exp: KEY=VALUE arguments and parameter file.
CTL=@CTL@
declare -A P=()
say() { echo "$*" >&2; }
setp() {
	local k=${1%%=*} v=${1#*=}
	[ "$k" != "$1" ] || { say "LRM-00112: multiple values not allowed for parameter '$1'"; exit 1; }
	P[${k,,}]=$v
}
for a in "$@"; do
	case ${a,,} in
	userid=*) say "stand-in: userid on the command line: refused"; exit 9 ;;
	*=*) setp "$a" ;;
	*/*) say "stand-in: a positional userid on the command line: refused"; exit 9 ;;
	*) say "LRM-00101: unknown parameter name '$a'"; exit 1 ;;
	esac
done
[ -n "${P[parfile]:-}" ] || { say "stand-in: no parfile"; exit 9; }
while IFS= read -r line || [ -n "$line" ]; do
	[ -n "$line" ] && setp "$line"
done <"${P[parfile]}"
[ "$(stat -c %a "${P[parfile]}")" = 600 ] || { say "stand-in: parfile mode $(stat -c %a "${P[parfile]}")"; exit 9; }
[ "$(printf '%s' "${P[userid]:-}" | sha256sum | cut -d' ' -f1)" = "$(cat "$CTL/userid.sha")" ] ||
	{ say "stand-in: wrong userid in the parfile"; exit 9; }
[ "${ORACLE_SID:-}" = "$(cat "$CTL/sid")" ] || { say "stand-in: ORACLE_SID='${ORACLE_SID:-}'"; exit 9; }
[ "${P[full]:-}" = y ] || { say "stand-in: full=y missing"; exit 9; }
[ -n "${P[file]:-}" ] && [ -n "${P[log]:-}" ] || { say "stand-in: file= or log= missing"; exit 9; }
{ id -un; dirname "${P[file]}"; } >"$CTL/seen"
sleep 1.5
mode=$(cat "$CTL/mode")
banner() {
	cat <<EOT

Export: Release 11.2.0.4.0 - Production on Thu Nov 26 03:00:00 2026

Copyright (c) 1982, 2011, Oracle and/or its affiliates.  All rights reserved.

EOT
}
{
	banner
	case $mode in
	err56)
		echo "EXP-00056: ORACLE error 1017 encountered"
		echo "ORA-01017: invalid username/password; logon denied"
		echo "Username: "
		echo "EXP-00030: Unexpected End-Of-File encountered while reading input"
		echo "EXP-00000: Export terminated unsuccessfully"
		;;
	fail) echo "Connected to: Oracle Database 11g Enterprise Edition Release 11.2.0.4.0" ;;
	*)
		echo "Connected to: Oracle Database 11g Enterprise Edition Release 11.2.0.4.0 - 64bit Production"
		echo "Export done in AL32UTF8 character set and AL16UTF16 NCHAR character set"
		echo ""
		echo "About to export the entire database ..."
		echo ". exporting tablespace definitions"
		echo ". about to export SCOTT's tables via Conventional Path ..."
		echo ". . exporting table                          EMP         14 rows exported"
		[ "$mode" = warn91 ] && echo "EXP-00091: Exporting questionable statistics."
		echo ". . exporting table                         DEPT          4 rows exported"
		if [ "$mode" = warn91 ]; then
			echo "Export terminated successfully with warnings."
		else
			echo "Export terminated successfully without warnings."
		fi
		;;
	esac
} >"${P[log]}"
cat "${P[log]}" >&2
case $mode in
err56) exit 1 ;;
fail) say "stand-in: simulated crash, core dumped"; exit 1 ;;
esac
cp "$CTL/blob" "${P[file]}"
exit 0
EOF
sed -i "s|@CTL@|$CTL|" "$BIN/exp"
chmod 755 "$BIN" "$BIN/exp"

# The stand-in first on the PATH of every ssh session.
sshd_stop
sshd_setenv "PATH=$BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"

remote_left() {
	find "$RBD" -mindepth 1 2>/dev/null
}

cfg_global "$CONF"
# orajob NAME [key = value...]: an oracle+ssh job; extra keys replace these defaults.
orajob() {
	local name=$1 kv k d
	shift
	local -a keys=("type = oracle+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT"
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = ORCL"
		"userid = $USERID" "username = nobody" "remote_backup_dir = $RBD")
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
orajob ok
orajob ign "ignore_error_oracle_code = EXP-00008, EXP-00091"
orajob noign "ignore_error_oracle_code = EXP-00091"
orajob warnbad "ignore_error_oracle_code = EXP-00008"
orajob crash
orajob nouser "username = tb_no_such_user_$TB_ID"
QDB="O'R\$(touch tb_pwned_$TB_ID)"
orajob quoted "db_name = $QDB"

t_match '^oracle\+ssh : ' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" "listdrivers shows oracle+ssh"
t_match 'Required params : .*db_name.*userid|Required params : .*userid' \
	"$("$TISBACKUP" -c "$CONF" listdrivers 2>&1 | grep -A2 '^oracle')" "listdrivers: required keys"

# Poll every process's argv and environment for the password while
# tisbackup runs (the pattern is in a file, so grep's own argv has none).
printf '%s\n' "$PW" >"$TMPD/pwpat"
watch_secret() {
	local saw=0
	: >"$TMPD/leaks"
	while [ ! -e "$TMPD/stopwatch" ]; do
		grep -laFf "$TMPD/pwpat" /proc/[0-9]*/cmdline /proc/[0-9]*/environ \
			>>"$TMPD/leaks" 2>/dev/null
		grep -qaE 'parfil[e]=/' /proc/[0-9]*/cmdline 2>/dev/null && saw=1
	done
	echo "$saw" >"$TMPD/sawexp"
}

# ================================================================ success
echo ok >"$CTL/mode"
rm -f "$TMPD/stopwatch"
watch_secret &
W=$!
tb_track $W
tb_run -c "$CONF" -s ok backup
touch "$TMPD/stopwatch"
wait $W
t_rc 0 "success: exit 0"
t_eq OK "$(last_row ok status)" "success: OK row"
S1=$(snapshots "$BASE/ok" | tail -n 1)
t_ne "" "$S1" "success: a STAMP folder"
t_eq "$(printf '%s\n' ORCL.dmp.gz ORCL.log)" "$(ls -1 "$BASE/ok/$S1" | sort)" \
	"success: DB.dmp.gz and DB.log"
t_ok "success: the dump decompresses to exp's file" cmp <(gzip -dc "$BASE/ok/$S1/ORCL.dmp.gz") "$CTL/blob"
t_match '^Export terminated successfully without warnings\.$' "$(cat "$BASE/ok/$S1/ORCL.log")" \
	"success: exp's log stored"
t_match '^\. \. exporting table +EMP +14 rows exported$' "$(cat "$BASE/ok/$S1/ORCL.log")" \
	"success: the log's lines intact"
t_eq "" "$(partial_dirs "$BASE/ok")" "success: no STAMP.partial"
t_eq 2 "$(last_row ok total_files_count)" "success: 2 files"
t_eq "$(($(stat -c %s "$BASE/ok/$S1/ORCL.dmp.gz") + $(stat -c %s "$BASE/ok/$S1/ORCL.log")))" \
	"$(last_row ok written_bytes)" "success: written_bytes = compressed dump + log"
t_eq "$BASE/ok/$S1" "$(last_row ok backup_location)" "success: backup_location"
t_match '^oracle backup of ORCL from 127\.0\.0\.1 OK' "$(last_row ok log)" "success: catalog log line"
t_eq nobody "$(head -n 1 "$CTL/seen")" "exp ran as the username user"
t_match "^$RBD/tisbackup-exp\." "$(sed -n 2p "$CTL/seen")" "exp wrote into a mktemp folder of remote_backup_dir"
t_eq "" "$(remote_left)" "success: the remote temp folder is gone"
t_eq 1 "$(cat "$TMPD/sawexp")" "the argv watcher saw exp running"
t_eq "" "$(cat "$TMPD/leaks")" "the password is in no argv or environment"
# (tbit.*: the folders of the tests running beside this one)
t_eq "" "$(grep -rlaF --exclude-dir='tbit.*' -- "$PW" "$RBD" /tmp /var/tmp 2>/dev/null | grep -vxF -e "$CONF" -e "$TMPD/pwpat")" \
	"the password is in no file left on the server"

# ================================================================ ignored warning
wait_next_second
echo warn91 >"$CTL/mode"
tb_run -c "$CONF" -s ign backup
t_rc 0 "EXP-00091 ignored: exit 0"
t_eq OK "$(last_row ign status)" "EXP-00091 ignored: OK row"
S2=$(snapshots "$BASE/ign" | tail -n 1)
t_ne "" "$S2" "EXP-00091 ignored: a STAMP folder"
t_match '^EXP-00091: Exporting questionable statistics\.$' "$(cat "$BASE/ign/$S2/ORCL.log")" \
	"EXP-00091 ignored: the log keeps it"
t_imatch 'warn.*EXP-00091' "$T_OUT$T_ERR" "EXP-00091 ignored: logged as a warning"
t_match 'with ignored exp warnings' "$(last_row ign log)" "EXP-00091 ignored: the catalog line says so"
t_eq "" "$(remote_left)" "EXP-00091 ignored: the remote temp folder is gone"

# ================================================================ failures
check_failed() {
	local job=$1 desc=$2 re=$3
	t_rc 1 "$desc: exit 1"
	t_eq ERROR "$(last_row "$job" status)" "$desc: ERROR row"
	t_imatch "$re" "$(last_row "$job" log)" "$desc: the log has the real cause"
	t_eq "" "$(snapshots "$BASE/$job")" "$desc: no STAMP folder"
	t_eq "" "$(partial_dirs "$BASE/$job")" "$desc: no STAMP.partial left"
	t_eq "" "$(remote_left)" "$desc: the remote temp folder is gone"
}

tb_run -c "$CONF" -s warnbad backup
check_failed warnbad "EXP-00091 not ignored" 'EXP-00091: Exporting questionable statistics'

echo err56 >"$CTL/mode"
tb_run -c "$CONF" -s noign backup
check_failed noign "EXP-00056" 'EXP-00056: ORACLE error 1017'
t_match 'ORA-01017: invalid username/password; logon denied' "$(last_row noign log)" \
	"EXP-00056: the ORA- line is in the error"

echo fail >"$CTL/mode"
tb_run -c "$CONF" -s crash backup
check_failed crash "exp exit 1" 'exit code 1'
t_match 'simulated crash' "$(last_row crash log)" "exp exit 1: exp's own words in the error"

echo ok >"$CTL/mode"
tb_run -c "$CONF" -s nouser backup
check_failed nouser "unknown user" "tb_no_such_user_$TB_ID"
t_imatch 'runuser.*(does not exist|no such user|unknown)' "$(last_row nouser log)" \
	"unknown user: runuser's message"

# ================================================================ quoting
printf '%s\n' "$QDB" >"$CTL/sid"
tb_run -c "$CONF" -s quoted backup
t_rc 0 "db_name with quotes and \$(...): exit 0"
S3=$(snapshots "$BASE/quoted" | tail -n 1)
t_ok "db_name with quotes: ORACLE_SID reached exp intact, file named after it" \
	test -f "$BASE/quoted/$S3/$QDB.dmp.gz"
t_eq "" "$(ls -d /tb_pwned_* "$TMPD"/tb_pwned_* ./tb_pwned_* 2>/dev/null)" "nothing from db_name was run"

# ================================================================ dry run
rm -f "$CTL/seen"
orajob dry
tb_run -c "$CONF" -s dry -d backup
t_rc 0 "dry run: exit 0"
t_match 'dry run: would export ORCL from 127\.0\.0\.1 with exp' "$T_OUT$T_ERR" "dry run: says what it would do"
t_eq "" "$(find "$BASE/dry" -mindepth 1 2>/dev/null)" "dry run: nothing written"
t_not "dry run: exp not run" test -e "$CTL/seen"

# ================================================================ validation
cfg_global "$TMPD/bad.ini"
orajob_bad() {
	local save=$CONF
	CONF=$TMPD/bad.ini
	orajob "$@"
	CONF=$save
}
orajob_bad rel "remote_backup_dir = relative/dir"
tb_run -c "$TMPD/bad.ini" -s rel backup
t_ne 0 "$T_RC" "remote_backup_dir not absolute: refused"
t_match 'remote_backup_dir' "$T_OUT$T_ERR" "remote_backup_dir not absolute: named"

t_done
