#!/usr/bin/env bash
#
# The switch driver against the simulators of tests/sim (one dialog file
# per model, replayed over telnet, over a real sshd's forced command on a
# pty, and as the DGS-1210's web interface). Each simulator is first
# checked with an independent client (pexpect, tests/sim/check_sim.py).
# Then: every model gives {job}/STAMP.cfg equal to the configuration its
# dialog file expects (the original's switch_type names as aliases);
# the faults (wrong password, pager left on, silent device, connection
# closed mid-output, extra blank lines; '#' inside configuration lines is
# in every dialog) give the right verdict and leave no file; an identical
# configuration is recorded OK with 0 bytes written and hard-linked; the
# password is in no argv, log or catalog row; register_existing, cleanup,
# checknagios and exportbackup work as for any file backup; the diff API
# compares two versions through serve.

# Listings of our own plain names (stamps).
# shellcheck disable=SC2010
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 python3 ssh-keygen sshd
python3 -c 'import pexpect' 2>/dev/null || t_bail "python3-pexpect is not installed"
tb_tmp

SIM=$TB_SOURCE_ROOT/tests/sim/switch_sim.py
CHECK=$TB_SOURCE_ROOT/tests/sim/check_sim.py
DIALOGS=$TB_SOURCE_ROOT/tests/sim/dialogs
PY=$(command -v python3)
PW='S3cr3t-Pw_42'
ENABLE='En4ble-Pw_77'
export SWITCH_SIM_PASSWORD=$PW SWITCH_SIM_ENABLE=$ENABLE
declare -A PORT

# sim_start NAME MODE DIALOG [--fault F...]: a simulator in the background;
# PORT[NAME] once it listens.
sim_start() {
	local name=$1 mode=$2 dialog=$3
	shift 3
	"$PY" "$SIM" "$mode" --dialog "$DIALOGS/$dialog.json" --port-file "$TMPD/port.$name" \
		"$@" >"$TMPD/sim.$name.log" 2>&1 </dev/null &
	tb_track $!
	wait_until 60 test -s "$TMPD/port.$name" || t_bail "simulator $name did not start: $(cat "$TMPD/sim.$name.log")"
	PORT[$name]=$(cat "$TMPD/port.$name")
}

# expected MODEL: the file the model's dialog expects, into stdout.
expected() {
	"$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["expected"])' "$DIALOGS/$1.json"
}

# sw_job NAME TYPE PORT [key=value...]: a switch job on 127.0.0.1.
sw_job() {
	local name=$1 type=$2 port=$3
	shift 3
	local timeout=switch_timeout=10
	case " $* " in *" switch_timeout="*) timeout= ;; esac
	job_section "$CONF" "$name" type=switch "server_name=$name" switch_ip=127.0.0.1 \
		"switch_type=$type" "switch_port=$port" switch_user=admin ${timeout:+"$timeout"} "$@"
}

# the newest backup file of JOB
newest() {
	ls -1 "$BASE/$1" 2>/dev/null | grep -E '^[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2}\.(cfg|bin)$' | sort | tail -n 1
}

# no_leftovers JOB DESC: no backup file and no .partial in the job folder.
no_leftovers() {
	if [ -z "$(ls -A "$BASE/$1" 2>/dev/null)" ]; then
		t_pass "$2"
	else
		t_fail "$2" "left: $(ls -A "$BASE/$1")"
	fi
}

for m in procurve ios linksyssrw dlinknextgen; do
	sim_start "$m" telnet "$m"
done
sim_start pc_pager telnet procurve --fault pager_on
sim_start ios_pager telnet ios --fault pager_on
sim_start dgs_pager telnet dlinknextgen --fault pager_on
sim_start pc_blank telnet procurve --fault blank_lines
sim_start silent telnet ios --fault silent
sim_start closed telnet ios --fault close_mid
sim_start http http dgs1210

# --- the simulators, checked by an independent client
for m in procurve ios linksyssrw dlinknextgen; do
	out=$("$PY" "$CHECK" "$m" "${PORT[$m]}" "$DIALOGS/$m.json" admin "$PW" 2>&1)
	t_eq "$out" ok "pexpect: the $m simulator logs in and prints its configuration"
	out=$("$PY" "$CHECK" "$m" "${PORT[$m]}" "$DIALOGS/$m.json" admin "$PW" wrong 2>&1)
	t_eq "$out" "ok: refused" "pexpect: the $m simulator refuses a wrong password"
done

# --- every telnet model, by the original's switch_type names
cfg_global "$CONF"
sw_job pc HP-PROCURVE-2524 "${PORT[procurve]}" "switch_password=$PW"
sw_job cisco CISCO "${PORT[ios]}" "switch_password=$PW" "switch_enable_password=$ENABLE"
sw_job linksys LINKSYS-SRW2024 "${PORT[linksyssrw]}" "switch_password=$PW"
sw_job dgs1510 DLINK-DGS1510 "${PORT[dlinknextgen]}" "switch_password=$PW"
sw_job pc_pager procurve "${PORT[pc_pager]}" "switch_password=$PW"
sw_job ios_pager ios "${PORT[ios_pager]}" "switch_password=$PW" "switch_enable_password=$ENABLE"
sw_job dgs_pager dgs1510 "${PORT[dgs_pager]}" "switch_password=$PW"
sw_job pc_blank aruba "${PORT[pc_blank]}" "switch_password=$PW"
sw_job pc_running HP-PROCURVE-4104GL "${PORT[procurve]}" "switch_password=$PW" switch_config=running
sw_job wrongpw HP-PROCURVE-2524 "${PORT[procurve]}" "switch_password=Wr0ng-Pw_13"
sw_job wrongenable CISCO "${PORT[ios]}" "switch_password=$PW" "switch_enable_password=Wr0ng-En_14"
sw_job silent CISCO "${PORT[silent]}" "switch_password=$PW" switch_timeout=2
sw_job deadline CISCO "${PORT[silent]}" "switch_password=$PW" switch_timeout=60 max_runtime=2
sw_job closed CISCO "${PORT[closed]}" "switch_password=$PW" "switch_enable_password=$ENABLE"
sw_job dgs1210 DLINK-DGS1210 "${PORT[http]}" "switch_password=$PW"
sw_job dgs1210_wrong DLINK-DGS1210 "${PORT[http]}" "switch_password=Wr0ng-Pw_13"

tb_run -c "$CONF" -l debug -j 4 backup
t_ne "$T_RC" 0 "a run with failing jobs exits non-zero"

check_ok() { # JOB MODEL DESC
	local f
	f=$(newest "$1")
	t_eq "$(last_row "$1" status)" OK "$3: OK row"
	if [ -n "$f" ] && cmp -s <(expected "$2") "$BASE/$1/$f"; then
		t_pass "$3: the file is the configuration, prompts, echoes, pagers and escapes removed"
	else
		t_fail "$3: the file is the configuration" "$(diff <(expected "$2") "$BASE/$1/$f" 2>&1 | head -20)"
	fi
	t_eq "$(last_row "$1" backup_location)" "$BASE/$1/$f" "$3: the row records the file"
	t_eq "$(last_row "$1" "written_bytes||' '||total_files_count")" "$(stat -c %s "$BASE/$1/$f") 1" "$3: bytes and files recorded"
}
check_ok pc procurve "HP ProCurve over telnet (VT100 banner, Press any key)"
check_ok cisco ios "Cisco IOS over telnet (enable secret, running config + show vlan)"
check_ok linksys linksyssrw "Linksys SRW2024 over telnet (menu, ^Z, lcli)"
check_ok dgs1510 dlinknextgen "D-Link DGS-1510 over telnet (between the banner lines)"
check_ok pc_pager procurve "ProCurve with the pager left on: -- MORE -- answered"
check_ok ios_pager ios "IOS with the pager left on: --More-- answered"
check_ok dgs_pager dlinknextgen "DGS-1510 with the pager left on: its own pager answered"
check_ok pc_blank procurve "ProCurve with an extra blank line after each command"
check_ok pc_running procurve "switch_config = running (show running-config)"
t_match '^1$' "$(grep -c '^ *name "uplink #1"' "$BASE/pc/$(newest pc)")" "a '#' inside a configuration line does not end the capture"

t_eq "$(last_row wrongpw status)" ERROR "a wrong password: ERROR"
t_match "login refused.*Invalid password" "$(last_row wrongpw log)" "a wrong password: the device's words in the log"
no_leftovers wrongpw "a wrong password leaves nothing"
t_eq "$(last_row wrongenable status)" ERROR "a wrong enable password: ERROR"
t_match "enable" "$(last_row wrongenable log)" "a wrong enable password: said so"
t_eq "$(last_row silent status)" ERROR "a silent device: ERROR"
t_match "no prompt after 2 s" "$(last_row silent log)" "a silent device: the step's timeout in the log"
no_leftovers silent "a silent device leaves nothing"
t_eq "$(last_row deadline status)" ERROR "max_runtime ends a dialog"
t_match "max_runtime \(2 s\) exceeded" "$(last_row deadline log)" "max_runtime: said so"
t_eq "$(last_row closed status)" ERROR "the connection closed mid-output: ERROR"
t_match "connection closed" "$(last_row closed log)" "the connection closed mid-output: said so"
no_leftovers closed "the connection closed mid-output leaves nothing"

# --- D-Link DGS-1210 over HTTP
f=$(newest dgs1210)
t_eq "$(last_row dgs1210 status)" OK "DGS-1210 over HTTP: OK"
if [ -n "$f" ] && cmp -s <("$PY" -c 'import json,sys; sys.stdout.buffer.write(json.load(open(sys.argv[1]))["config_bin"].encode("latin-1"))' "$DIALOGS/dgs1210.json") "$BASE/dgs1210/$f"; then
	t_pass "DGS-1210: STAMP.bin is config.bin, byte for byte"
else
	t_fail "DGS-1210: STAMP.bin is config.bin" "file: $f"
fi
t_eq "$(last_row dgs1210_wrong status)" ERROR "DGS-1210 with a wrong password: ERROR"
t_match "Wrong password" "$(last_row dgs1210_wrong log)" "DGS-1210 with a wrong password: said so"
no_leftovers dgs1210_wrong "DGS-1210 with a wrong password leaves nothing"

# --- identical configuration: OK, 0 bytes written, a hard link
first=$(newest pc)
wait_next_second
tb_run -c "$CONF" -s pc backup
t_rc 0 "a second backup of an unchanged switch succeeds"
second=$(newest pc)
t_ne "$second" "$first" "the second backup has its own stamp"
t_eq "$(last_row pc "status||' '||written_bytes||' '||total_bytes")" "OK 0 $(stat -c %s "$BASE/pc/$first")" "unchanged: OK, 0 bytes written, total_bytes the size"
t_match "unchanged since ${first%.cfg}" "$(last_row pc log)" "unchanged: the log names the backup it equals"
t_eq "$(stat -c %i "$BASE/pc/$second")" "$(stat -c %i "$BASE/pc/$first")" "unchanged: the new name is a hard link to the previous file"

# --- alert_on_change: a webhook (and mail) when the configuration changed
HOOK=$TMPD/hook
mkdir -p "$HOOK"
python3 "$TB_SOURCE_ROOT/tests/integration/alert_sinks.py" http "$HOOK" >"$HOOK/server.log" 2>&1 &
tb_track $!
wait_until 10 test -s "$HOOK/port" || t_bail "the webhook sink did not start: $(cat "$HOOK/server.log")"
printf '[alerts]\nwebhook_url = http://127.0.0.1:%s/hook\n' "$(cat "$HOOK/port")" >"$TMPD/alerts.ini"
cfg_global "$TMPD/change.ini"
CONF_SAVE=$CONF
CONF=$TMPD/change.ini
sw_job pcw procurve "${PORT[procurve]}" "switch_password=$PW" alert_on_change=yes
sw_job pcq procurve "${PORT[procurve]}" "switch_password=$PW"
CONF=$CONF_SAVE
hooks() { find "$HOOK" -name '*.json' | wc -l; }
tb_run -c "$TMPD/change.ini" --gui-config "$TMPD/alerts.ini" backup
t_rc 0 "alert_on_change: the first backups succeed"
t_eq "$(hooks)" 0 "alert_on_change: no alert for a first version"
wait_next_second
tb_run -c "$TMPD/change.ini" --gui-config "$TMPD/alerts.ini" backup
t_eq "$(hooks)" 0 "alert_on_change: no alert for an unchanged configuration"
# an edit on the device: the newest backup differs from what it says now
for j in pcw pcq; do
	f=$(newest $j)
	rm "$BASE/$j/$f"
	sed -e 's/^hostname "ProCurve Switch 2524"$/hostname "old-name"/' "$BASE/$j/$(newest $j)" >"$BASE/$j/$f"
done
changed_from=$(newest pcw)
wait_next_second
tb_run -c "$TMPD/change.ini" --gui-config "$TMPD/alerts.ini" backup
t_rc 0 "alert_on_change: a changed configuration is backed up"
t_eq "$(hooks)" 1 "alert_on_change: one alert, for the job that asked for it only"
H=$(find "$HOOK" -name '*.json' | head -1)
t_eq "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["event"], d["job"], d["status"], d["previous"])' "$H")" \
	"changed pcw OK $changed_from" "alert_on_change: event changed, the job, the previous version"
d=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["diff"])' "$H")
t_match '^-hostname "old-name"$' "$d" "alert_on_change: the diff's old side"
t_match '^\+hostname "ProCurve Switch 2524"$' "$d" "alert_on_change: the diff's new side"
t_eq "$(printf '%s\n' "$d" | grep -c '^[-+][^-+]')" 2 "alert_on_change: nothing else in the diff"
t_match "alerts: changed alert posted" "$(cat "$BASE"/log/*.log 2>/dev/null; echo "$T_ERR")" "alert_on_change: the run log says it was posted"

# --- switch_password_file
printf '%s\n' "$PW" >"$TMPD/pw"
chmod 600 "$TMPD/pw"
cfg_global "$TMPD/pwfile.ini"
CONF_SAVE=$CONF
CONF=$TMPD/pwfile.ini
sw_job pwfile procurve "${PORT[procurve]}" "switch_password_file=$TMPD/pw"
sw_job pwfile_open procurve "${PORT[procurve]}" "switch_password_file=$TMPD/pw_open"
CONF=$CONF_SAVE
printf '%s\n' "$PW" >"$TMPD/pw_open"
chmod 644 "$TMPD/pw_open"
tb_run -c "$TMPD/pwfile.ini" backup
t_eq "$(last_row pwfile status)" OK "switch_password_file: OK"
t_eq "$(last_row pwfile_open status)" ERROR "a switch_password_file readable by others: ERROR"
t_match "chmod 600" "$(last_row pwfile_open log)" "a switch_password_file readable by others: the fix is named"

# --- secrets: never in an argv (checked while a dialog runs), a log, the catalog
cfg_global "$TMPD/scan.ini"
CONF=$TMPD/scan.ini
sw_job scan CISCO "${PORT[silent]}" "switch_password=$PW" switch_timeout=4
CONF=$CONF_SAVE
"$TISBACKUP" -c "$TMPD/scan.ini" -l debug backup >"$TMPD/scan.out" 2>&1 &
scan_pid=$!
tb_track "$scan_pid"
printf '%s\n' "$PW" "$ENABLE" >"$TMPD/secrets" # grep -f: not in grep's own argv
seen=0
while kill -0 "$scan_pid" 2>/dev/null; do
	if cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -qF -f "$TMPD/secrets"; then
		seen=1
	fi
	sleep 0.2
done
wait "$scan_pid"
t_eq "$seen" 0 "no process shows a password in its argv during a dialog"
if grep -rqaF -e "$PW" -e "$ENABLE" -e Wr0ng-Pw_13 -e Wr0ng-En_14 "$BASE/log" "$TMPD/.out" "$TMPD/.err" "$TMPD/scan.out"; then
	t_fail "no password in any log or catalog row" "$(grep -rlaF -e "$PW" -e "$ENABLE" "$BASE/log" "$TMPD/scan.out")"
else
	t_pass "no password in any log or catalog row (debug transcripts included)"
fi
t_match "<secret>" "$(cat "$BASE"/log/*.log "$TMPD/scan.out" 2>/dev/null)" "the debug transcript shows <secret> where a password was sent"

# --- configuration errors
cfg_global "$TMPD/bad.ini"
CONF=$TMPD/bad.ini
sw_job bad1 HP-PROCURVE-9999 23
sw_job bad2 LINKSYS-SRW2024 23 switch_protocol=ssh
CONF=$CONF_SAVE
tb_run -c "$TMPD/bad.ini" backup
t_ne "$T_RC" 0 "bad switch keys: refused at load"
t_match "\[bad1\] switch_type: unknown switch type 'HP-PROCURVE-9999'" "$T_ERR" "an unknown switch_type names the key and the known types"
t_match "\[bad2\] switch_protocol: a linksyssrw switch .* cannot be reached over ssh" "$T_ERR" "a protocol the model lacks is refused"

# --- over ssh: a real sshd whose forced command speaks the dialog on the pty
sshd_start
sshd_stop
echo "SSH_DIALOG" >"$TMPD/ssh_dialog"
cat >"$TMPD/ssh_sim.sh" <<SIMEOF
#!/bin/sh
export SWITCH_SIM_PASSWORD='$PW' SWITCH_SIM_ENABLE='$ENABLE'
exec "$PY" "$SIM" stdio --dialog "$DIALOGS/\$(cat "$TMPD/ssh_dialog").json"
SIMEOF
chmod 700 "$TMPD/ssh_sim.sh"
echo "ForceCommand $TMPD/ssh_sim.sh" >>"$SSHD_DIR/sshd_config"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
tb_track "$SSHD_PID"
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"

ssh_job() { # NAME TYPE [key=value...]
	local name=$1 type=$2
	shift 2
	job_section "$CONF" "$name" type=switch "server_name=$name" switch_ip=127.0.0.1 \
		"switch_type=$type" switch_protocol=ssh "switch_port=$SSHD_PORT" switch_user=root \
		"private_key=$CLIENT_KEY" "known_hosts_file=$KNOWN_HOSTS" switch_timeout=10 "$@"
}
cfg_global "$TMPD/ssh.ini"
CONF=$TMPD/ssh.ini
ssh_job s_routeros routeros
ssh_job s_junos juniper
ssh_job s_ios CISCO "switch_enable_password=$ENABLE"
ssh_job s_procurve HP-PROCURVE-2524
cfg_global "$TMPD/strict.ini"
CONF=$TMPD/strict.ini
KNOWN_HOSTS_SAVE=$KNOWN_HOSTS
KNOWN_HOSTS=$TMPD/empty_known_hosts
ssh_job s_strict routeros host_key_policy=strict
KNOWN_HOSTS=$KNOWN_HOSTS_SAVE
CONF=$CONF_SAVE
: >"$TMPD/empty_known_hosts"
for pair in s_routeros:routeros s_junos:junos s_ios:ios s_procurve:procurve s_strict:routeros; do
	echo "${pair#*:}" >"$TMPD/ssh_dialog"
	ini=$TMPD/ssh.ini
	[ "${pair%%:*}" = s_strict ] && ini=$TMPD/strict.ini
	tb_run -c "$ini" -s "${pair%%:*}" backup
	[ "$T_RC" = 0 ] || tb_show
done
check_ok s_routeros routeros "MikroTik RouterOS over ssh (the export's date line dropped)"
check_ok s_junos junos "Juniper Junos over ssh (---(more)--- pager off)"
check_ok s_ios ios "Cisco IOS over ssh (enable on the pty)"
check_ok s_procurve procurve "ProCurve over ssh (banner, Press any key)"
t_match "127.0.0.1" "$(cat "$KNOWN_HOSTS")" "ssh: accept-new recorded the host key in known_hosts_file"
t_eq "$(last_row s_strict status)" ERROR "ssh: host_key_policy = strict refuses an unknown host key"
t_match "not in .*empty_known_hosts" "$(last_row s_strict log)" "ssh: strict: said so"

# --- ssh with a password (no key): sshd checks a test user's system
# password, offered as password then keyboard-interactive
SSHPW='Sw1tch-Ssh_Pw9'
BADPW='Wr0ng-Ssh_Pw0'
PWUSER=tbsw$$
if tb_user_add "$PWUSER" "$SSHPW"; then
	mkdir -p "$TMPD/pwsim" && chmod 711 "$TMPD" && chmod 755 "$TMPD/pwsim"
	# the user cannot run root's own python (a pyenv shim under /root)
	UPY=/usr/bin/python3
	[ -x "$UPY" ] || UPY=$PY
	cat >"$TMPD/pwsim/sim.sh" <<SIMEOF
#!/bin/sh
export SWITCH_SIM_PASSWORD='$PW' SWITCH_SIM_ENABLE='$ENABLE'
exec "$UPY" "$SIM" stdio --dialog "$DIALOGS/routeros.json"
SIMEOF
	chmod 755 "$TMPD/pwsim/sim.sh"
	printf 'Match User %s\n\tPasswordAuthentication yes\n\tKbdInteractiveAuthentication yes\n\tForceCommand %s\n' \
		"$PWUSER" "$TMPD/pwsim/sim.sh" >>"$SSHD_DIR/sshd_config"
	sshd_stop
	/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
	SSHD_PID=$!
	tb_track "$SSHD_PID"
	wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"
	printf '%s\n' "$SSHPW" >"$TMPD/sw_ssh_pw" && chmod 600 "$TMPD/sw_ssh_pw"
	printf '%s\n' "$BADPW" >"$TMPD/sw_ssh_badpw" && chmod 600 "$TMPD/sw_ssh_badpw"
	cfg_global "$TMPD/pw.ini"
	for j in s_pw:sw_ssh_pw s_badpw:sw_ssh_badpw; do
		job_section "$TMPD/pw.ini" "${j%%:*}" type=switch "server_name=${j%%:*}" switch_ip=127.0.0.1 \
			switch_type=routeros switch_protocol=ssh "switch_port=$SSHD_PORT" "switch_user=$PWUSER" \
			"switch_password_file=$TMPD/${j#*:}" "known_hosts_file=$KNOWN_HOSTS" switch_timeout=10
	done
	tb_run -c "$TMPD/pw.ini" -s s_pw backup
	[ "$T_RC" = 0 ] || tb_show
	check_ok s_pw routeros "ssh with a password from switch_password_file (no key)"
	t_match "Accepted (password|keyboard-interactive)[^ ]* for $PWUSER" "$(cat "$SSHD_DIR/sshd.log")" \
		"ssh password: sshd accepted a password, not a key"
	tb_run -c "$TMPD/pw.ini" -s s_badpw backup
	t_eq "$(last_row s_badpw status)" ERROR "ssh with a wrong password: ERROR"
	t_match "authentication as $PWUSER refused \(password\)" "$(last_row s_badpw log)" \
		"ssh with a wrong password: said so"
	t_nomatch "$SSHPW|$BADPW" "$(cat "$BASE"/log/*.log 2>/dev/null; csql 'select log from stats')" \
		"ssh passwords: in no log and no catalog row"
else
	t_skip "ssh with a password: useradd is not permitted here"
fi

# --- libssh missing: the ssh job fails naming the package; commands that
# do not talk to a switch over ssh run
if [ -f "$TMPD/pw.ini" ] && unshare --mount --propagation private true 2>/dev/null; then
	mapfile -t ssh_libs < <(find /usr/lib /lib -name 'libssh.so*' 2>/dev/null | xargs -r realpath | sort -u)
	{
		echo 'for l in "${@:2:$1}"; do mount --bind /dev/null "$l" || exit 99; done'
		echo 'shift $(($1 + 1)); exec "$@"'
	} >"$TMPD/nolib.sh"
	REAL=$TISBACKUP
	TISBACKUP=unshare tb_run --mount --propagation private bash "$TMPD/nolib.sh" \
		"${#ssh_libs[@]}" "${ssh_libs[@]}" "$REAL" -c "$TMPD/pw.ini" -s s_pw backup
	t_eq "$(last_row s_pw status)" ERROR "no libssh: the ssh switch job fails"
	t_match "cannot load libssh .*install the package libssh-4" "$(last_row s_pw log)" \
		"no libssh: the row names the package to install"
	TISBACKUP=unshare tb_run --mount --propagation private bash "$TMPD/nolib.sh" \
		"${#ssh_libs[@]}" "${ssh_libs[@]}" "$REAL" -c "$TMPD/pw.ini" checknagios
	t_ne "$T_RC" 3 "no libssh: checknagios runs (no UNKNOWN)"
	t_nomatch "libssh" "$T_OUT$T_ERR" "no libssh: checknagios does not need it"
	TISBACKUP=$REAL
else
	t_skip "missing libssh: unshare --mount is not permitted here"
fi

# --- register_existing, cleanup, checknagios like any file backup
touch "$BASE/pc/pc-20250101-10h00m00.txt" "$BASE/pc/20250102-10h00m00.cfg" "$BASE/pc/notes.cfg"
tb_run -c "$CONF" -s pc register_existing
t_rc 0 "register_existing runs"
t_eq "$(csql "select count(*) from stats where backup_name='pc' and backup_location in ('$BASE/pc/pc-20250101-10h00m00.txt','$BASE/pc/20250102-10h00m00.cfg')")" 2 \
	"register_existing records STAMP.cfg and the original's NAME-STAMP.txt"
t_eq "$(csql "select count(*) from stats where backup_location like '%notes.cfg'")" 0 "register_existing ignores other files"
touch "$BASE/pc/20200101-00h00m00.cfg.partial"
tb_run -c "$CONF" -s pc cleanup
t_rc 0 "cleanup runs"
t_not "cleanup sweeps an expired crashed run's STAMP.cfg.partial" test -e "$BASE/pc/20200101-00h00m00.cfg.partial"
t_ok "cleanup keeps the recent backups" test -e "$BASE/pc/$second"
tb_run -c "$CONF" -s cisco checknagios
t_rc 0 "checknagios: OK for a fresh switch backup"
rm -f "$BASE/cisco/$(newest cisco)"
tb_run -c "$CONF" -s cisco checknagios
t_rc 2 "checknagios: CRITICAL when the backup file disappeared"
mkdir -p "$TMPD/export"
tb_run -c "$CONF" -s pc exportbackup -x "$TMPD/export"
t_rc 0 "exportbackup of a switch job"
t_ok "exportbackup copies the newest configuration file" cmp "$BASE/pc/$(newest pc)" "$TMPD/export/pc/$(newest pc)"
tb_run -c "$CONF" -s pc restore --to "$TMPD/restored"
t_rc 0 "restore --to DIR of a switch configuration"
t_ok "restore: the file equals the newest backup" cmp "$BASE/pc/$(newest pc)" "$TMPD/restored/$(newest pc)"
tb_run -c "$CONF" -s pc restore
t_rc 2 "restore of a one-file backup without --to: a usage error"
t_match 'where to. --to DIR: a folder of this host' "$T_ERR" "restore without --to: the error says how"

# --- versions: GET /api/v1/jobs/NAME/diff through serve
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"
older=20261203-00h00m00
sed -e 's/^hostname "ProCurve Switch 2524"$/hostname "core-2524"/' -e '/^cdp run$/d' \
	"$BASE/pc/$first" >"$BASE/pc/$older.cfg"
web_config
web_user alice viewer 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
A=(-u alice:alice-pw-1)
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/pc/diff?from=$older&to=${first%.cfg}")
t_eq 200 "$(st_of "$r")" "diff: 200"
d=$(body_of "$r")
t_match "^--- $older\$" "$d" "diff: labelled with the from stamp"
t_match "^\+\+\+ ${first%.cfg}\$" "$d" "diff: labelled with the to stamp"
t_match '^-hostname "core-2524"$' "$d" "diff: a changed line, old side"
t_match '^\+hostname "ProCurve Switch 2524"$' "$d" "diff: a changed line, new side"
t_match '^\+cdp run$' "$d" "diff: an added line"
t_eq 3 "$(printf '%s\n' "$d" | grep -c '^[-+][^-+]')" "diff: nothing else differs"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/pc/diff?from=${first%.cfg}&to=${second%.cfg}")
t_eq "200|" "$(st_of "$r")|$(body_of "$r")" "diff of two identical versions: 200, empty"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/pc/diff?from=../../etc&to=${first%.cfg}")
t_eq 400 "$(st_of "$r")" "diff: a malformed stamp is refused"
t_match '"field": *"from"' "$(body_of "$r")" "diff: the error names the field"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/pc/diff?from=20200101-00h00m00&to=${first%.cfg}")
t_eq 404 "$(st_of "$r")" "diff: a stamp without a backup is 404"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/nosuch/diff?from=$older&to=${first%.cfg}")
t_eq 404 "$(st_of "$r")" "diff: an unknown job is 404"
r=$(hcurl "$WEB/api/v1/jobs/pc/diff?from=$older&to=${first%.cfg}")
t_eq 401 "$(st_of "$r")" "diff: authentication required"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/pc")
t_eq 200 "$(st_of "$r")" "the job's own route still answers"

t_done
