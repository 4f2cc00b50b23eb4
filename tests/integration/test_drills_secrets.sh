#!/usr/bin/env bash
#
# /proc sampler drill: while one run backs up a job of each driver that
# takes a secret and can run here (mysql+ssh against a real MariaDB with
# db_passwd; switch over telnet with switch_password_file and over HTTP
# with switch_password, against the tests/sim simulators), every
# process's argv (/proc/*/cmdline) and environment (/proc/*/environ) is
# read again and again; no secret may ever appear there (the simulators,
# which must know them, are left out), nor in the run logs or the catalog.
# oracle+ssh, sqlserver+ssh and rsync (daemon) have their own samplers in
# test_oracle.sh, test_sqlserver.sh and test_rsyncd.sh.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen python3
tb_tmp
sshd_start
CONF=$TMPD/secrets.ini
cfg_global "$CONF"
SECRETS=$TMPD/secrets
: >"$SECRETS"
JOBS=()
SKIP_PIDS=()

# ---------------------------------------------------------------- mysql+ssh
if command -v mariadbd >/dev/null && command -v mysqldump >/dev/null && mariadb_start; then
	MYPW="My-db-pw-$TB_ID-s3cret"
	echo "$MYPW" >>"$SECRETS"
	mariadb --no-defaults -S "$MYSOCK" -uroot <<EOF || t_bail "creating the test data failed"
CREATE USER 'tbuser'@'127.0.0.1' IDENTIFIED BY '$MYPW';
GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, EXECUTE, RELOAD, PROCESS ON *.* TO 'tbuser'@'127.0.0.1';
CREATE DATABASE big;
CREATE TABLE big.rows (id INT PRIMARY KEY, h VARCHAR(200));
INSERT INTO big.rows SELECT seq, CONCAT(MD5(seq), SHA1(seq), MD5(seq * 7)) FROM big.seq_1_to_200000;
EOF
	job_section "$CONF" my type=mysql+ssh server_name=127.0.0.1 "ssh_port=$SSHD_PORT" \
		"private_key=$CLIENT_KEY" "known_hosts_file=$KNOWN_HOSTS" db_user=tbuser "db_passwd=$MYPW" \
		db_host=127.0.0.1 "db_port=$MYPORT" db_name=big
	JOBS+=(my)
else
	t_skip "mysql+ssh under the sampler" "MariaDB is not installed or did not start"
fi

# ---------------------------------------------------------------- switch
SIM=$TB_SOURCE_ROOT/tests/sim/switch_sim.py
DIALOGS=$TB_SOURCE_ROOT/tests/sim/dialogs
if python3 -c 'import pexpect' 2>/dev/null; then
	SWPW="Sw-pw-$TB_ID-s3cret"
	echo "$SWPW" >>"$SECRETS"
	printf '%s\n' "$SWPW" >"$TMPD/swpw"
	chmod 600 "$TMPD/swpw"
	declare -A PORT
	for m in telnet:procurve http:dgs1210; do
		SWITCH_SIM_PASSWORD=$SWPW SWITCH_SIM_ENABLE=$SWPW python3 "$SIM" "${m%%:*}" \
			--dialog "$DIALOGS/${m#*:}.json" --port-file "$TMPD/port.${m#*:}" \
			>"$TMPD/sim.${m#*:}.log" 2>&1 </dev/null &
		tb_track $!
		SKIP_PIDS+=($!)
		wait_until 60 test -s "$TMPD/port.${m#*:}" || t_bail "simulator ${m#*:} did not start"
		PORT[${m#*:}]=$(cat "$TMPD/port.${m#*:}")
	done
	job_section "$CONF" swtelnet type=switch server_name=swtelnet switch_ip=127.0.0.1 \
		switch_type=procurve "switch_port=${PORT[procurve]}" switch_user=admin \
		"switch_password_file=$TMPD/swpw"
	job_section "$CONF" swhttp type=switch server_name=swhttp switch_ip=127.0.0.1 \
		switch_type=DLINK-DGS1210 "switch_port=${PORT[dgs1210]}" switch_user=admin \
		"switch_password=$SWPW"
	JOBS+=(swtelnet swhttp)
else
	t_skip "switch under the sampler" "python3-pexpect is not installed"
fi
[ ${#JOBS[@]} -gt 0 ] || t_done

# ---------------------------------------------------------------- the sampler
# skipped PIDS: the simulators and everything they started.
skipped() {
	local p
	for p in "${SKIP_PIDS[@]}"; do
		echo "$p"
		tb_descendants "$p"
	done
}
"$TISBACKUP" -c "$CONF" -j 4 backup >"$TMPD/run.out" 2>"$TMPD/run.err" </dev/null &
P=$!
tb_track $P
samples=0 seen=0
: >"$TMPD/leaks"
while kill -0 $P 2>/dev/null; do
	skip=" $(skipped | tr '\n' ' ') "
	for f in $(grep -laFf "$SECRETS" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}
		p=${p%%/*}
		case $skip in *" $p "*) seen=1 && continue ;; esac
		echo "$f: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >>"$TMPD/leaks"
	done
	samples=$((samples + 1))
done
wait $P
rc=$?
t_eq 0 "$rc" "the run of ${JOBS[*]} exits 0"
for j in "${JOBS[@]}"; do
	t_eq OK "$(last_row "$j" status)" "$j: OK"
done
t_num_ge 5 "$samples" "every process's argv and environment sampled $samples times during the run"
[ ${#SKIP_PIDS[@]} -gt 0 ] &&
	t_eq 1 "$seen" "the sampler does see a secret where one is (the simulators' environment)"
t_eq "" "$(sort -u "$TMPD/leaks")" "no secret in any argv or environment"
t_eq "" "$(grep -rlFf "$SECRETS" "$BASE/log" "$TMPD/run.out" "$TMPD/run.err" 2>/dev/null)" \
	"no secret in the run logs or output"
t_eq "" "$(sqlite3 "$CATALOG" .dump | grep -Ff "$SECRETS")" "no secret in the catalog"

t_done
