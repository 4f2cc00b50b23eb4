#!/usr/bin/env bash
#
# Injection sweep: every string key (str, file and exclude_list types) of
# every driver, read from the driver table by tests/tb_driverkeys (so a
# new driver or key is swept without editing this test), gets values full
# of shell metacharacters: $(...), backticks, ';', '|', '&', quotes, and a
# newline (a continuation line, the only way a value holds one). Each job
# is its own section of one file; a dry run validates them all (a refused
# job does not stop the others) and a refused value must be refused naming
# the key. The accepted ones are then run for real against the lib.sh sshd (so remote
# commands do reach a shell) and closed loopback ports. No marker file may
# appear anywhere a local or remote shell could have written it.
# Not swept: type (selects the driver), preexec and postexec (shell
# commands by design, docs/architecture.md).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen
KEYS=${TB_BUILD_ROOT:-$TB_SOURCE_ROOT/build}/tests/tb_driverkeys
[ -x "$KEYS" ] || t_bail "$KEYS is not built"
tb_tmp
sshd_start
CLOSED=$(free_port) || t_bail "no free port"
mkdir -p "$TMPD/src"
echo data >"$TMPD/src/f"
printf 'pw\n' >"$TMPD/pw"
chmod 600 "$TMPD/pw"

# Values every shell would act on (the first also holds ssh's % and ${). Markers are relative (they land in the
# evaluating shell's folder, which no_markers searches) or in /tmp.
M=tb_pwned_$TB_ID
P1="v\$(touch $M)a;touch $M;\`touch $M\`|touch /tmp/$M&'\"touch $M\"\\ %d \${HOME}"
P2="v"$'\n'"	\$(touch $M);touch /tmp/$M"

# A value for a required key, by name, else by type (what a valid job needs).
base_value() {
	case $1 in
	remote_user) echo root ;;
	remote_dir) echo "$TMPD/src" ;;
	private_key) echo "$CLIENT_KEY" ;;
	password_file | switch_password_file) echo "$TMPD/pw" ;;
	switch_type) echo procurve ;;
	switch_ip | db_host | db_server_name) echo 127.0.0.1 ;;
	userid) echo scott/tiger ;;
	*) case $2 in
		file) echo "$TMPD/pw" ;;
		int) echo 1 ;;
		port) echo "$CLOSED" ;;
		bool) echo no ;;
		*) echo x ;;
		esac ;;
	esac
}

# job_text DRIVER NAME [KEY VALUE]: a job section of DRIVER, its required
# keys set, its other ports closed, KEY (if given) set to VALUE. The
# driver's lines are computed once (_job_lines).
declare -A _JL=()
_job_lines() {
	local drv=$1 d k t r v kv
	for kv in server_name=127.0.0.1 "ssh_port=$SSHD_PORT" "known_hosts_file=$KNOWN_HOSTS" \
		max_runtime=15 stall_timeout=5 exec_timeout=15 max_per_server=16; do
		printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
	done
	while IFS=$'\t' read -r d k t r; do
		[ "$d" = "$drv" ] || continue
		case $k in type | server_name | ssh_port | known_hosts_file | max_runtime | stall_timeout | exec_timeout | max_per_server) continue ;; esac
		if [ "$r" = 1 ]; then
			v=$(base_value "$k" "$t")
		elif [ "$t" = port ]; then
			v=$CLOSED
		else
			continue
		fi
		printf '%s = %s\n' "$k" "$v"
	done <"$TMPD/keys"
}
job_text() {
	local drv=$1 name=$2 ikey=${3:-} ival=${4:-} line
	[ -n "${_JL[$drv]+x}" ] || _JL[$drv]=$(_job_lines "$drv")
	printf '[%s]\ntype = %s\n' "$name" "$drv"
	while IFS= read -r line; do
		[ -n "$ikey" ] && [ "${line%% = *}" = "$ikey" ] && continue
		printf '%s\n' "$line"
	done <<<"${_JL[$drv]}"
	[ -n "$ikey" ] && printf '%s = %s\n' "$ikey" "${ival//$'\n'/$'\n\t'}"
	echo
}

"$KEYS" >"$TMPD/keys" || t_bail "tb_driverkeys failed"
DRIVERS=$(cut -f1 "$TMPD/keys" | uniq)
t_num_ge 12 "$(echo "$DRIVERS" | grep -c .)" "tb_driverkeys lists every driver"

# refusal NAME: the lines of the last run's stderr refusing job NAME.
refusal() {
	printf '%s\n' "$T_ERR" | grep -F "[$1]" | grep -E '^tisbackup: | ERROR '
}

# Every driver's base job is valid (else the sweep below tests nothing).
f=$TMPD/base.ini
cfg_global "$f"
for drv in $DRIVERS; do job_text "$drv" "base_${drv//[^a-z0-9]/_}" >>"$f"; done
chmod 600 "$f" # it holds passwords: readable by all, the check warns about it
tb_run -c "$f" -d backup
for drv in $DRIVERS; do
	if [ -n "$(refusal "base_${drv//[^a-z0-9]/_}")" ]; then
		t_fail "$drv: the base job passes the configuration check" \
			"$(refusal "base_${drv//[^a-z0-9]/_}")"
	else
		t_pass "$drv: the base job passes the configuration check"
	fi
done

# The sweep: one job per (driver, key, value), all in one file (a refused
# job does not stop the others).
ALL=$TMPD/all.ini
cfg_global "$ALL"
declare -a JD JK
n=0 swept=0
while IFS=$'\t' read -r drv key type _; do
	case $type in str | file | exclude) ;; *) continue ;; esac
	case $key in type | preexec | postexec) continue ;; esac
	swept=$((swept + 1))
	for val in "$P1" "$P2"; do
		n=$((n + 1))
		JD[n]=$drv JK[n]=$key
		job_text "$drv" "j$n" "$key" "$val" >>"$ALL"
	done
done <"$TMPD/keys"
t_diag "config written at ${SECONDS}s"
t_num_ge 100 "$swept" "the sweep covers at least 100 (driver, string key) pairs ($swept)"

# The configuration check (a dry run): refused jobs must name their key.
chmod 600 "$ALL"
tb_run -c "$ALL" -d backup
refused=0 unnamed=0 torun=0
# The first refusal line of each job, in one pass: REFUSED[i].
declare -a REFUSED
while IFS=$'\t' read -r i line; do
	[ -n "${REFUSED[i]:-}" ] || REFUSED[i]=$line
done < <(printf '%s\n' "$T_ERR" | grep -E '^tisbackup: | ERROR ' |
	sed -nE 's/^(.*\[j([0-9]+)\].*)$/\2\t\1/p')
for ((i = 1; i <= n; i++)); do
	line=${REFUSED[i]:-}
	if [ -z "$line" ]; then
		[ "${JD[i]}" != null ] && torun=$((torun + 1)) # null records nothing
		continue
	fi
	refused=$((refused + 1))
	if ! printf '%s\n' "$line" | grep -qF -- "[j$i] ${JK[i]}"; then
		unnamed=$((unnamed + 1))
		t_diag "${JD[i]} ${JK[i]}: refused without naming the key: $line"
	fi
done
t_diag "dry run done at ${SECONDS}s"
t_diag "$n values in $swept keys: $refused refused, $((n - refused)) accepted"
t_eq 0 "$unnamed" "every refused value is refused naming its key"
t_num_ge 1 "$((n - refused))" "some values are accepted (and run below)"
t_ok "no marker after the configuration check" no_markers

# The accepted values, run for real (the remote side is our sshd).
tb_run -c "$ALL" -j 16 backup
t_diag "the real run exited $T_RC; slowest jobs:" \
	"$(csql "select backup_name, backup_duration, substr(log, 1, 100) from stats order by backup_duration desc limit 5")"
t_num_ge "$torun" "$(csql "select count(distinct backup_name) from stats")" \
	"every accepted job ran and was recorded ($torun, refused ones get an ERROR row too)"
t_diag "real run done at ${SECONDS}s, job time summed: $(csql "select cast(sum(backup_duration) * 3600 as int) from stats") s"
t_ok "no marker after running the accepted jobs" no_markers
t_eq 0 "$(csql "select count(*) from stats where status = 'Running'")" "no Running row left"

t_done
