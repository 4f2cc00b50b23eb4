#!/usr/bin/env bash
#
# ssh failures keep their cause (issue 20 part 1), against the real
# loopback sshd: a key the server refuses, a changed host key, a closed
# port, a host name that does not resolve and strict checking of an
# unlisted host. For each, ssh's own line and the next step reach the
# catalog row, the run log, stderr and the alert webhook, for the rsync
# driver, a dump driver (mysql+ssh: ssh fails before any database is
# needed) and a preexec hook. The next step printed for a changed host key
# is then run as printed, and the backup works again.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen python3 curl
tb_tmp
sshd_start

SINKS=$(dirname "${BASH_SOURCE[0]}")/alert_sinks.py
HOOK=$TMPD/hook
mkdir -p "$HOOK"
python3 "$SINKS" http "$HOOK" >"$HOOK/server.log" 2>&1 &
tb_track $!
wait_until 10 test -s "$HOOK/port" || t_bail "the webhook sink did not start"
ALERTS=$TMPD/alerts.ini
cat >"$ALERTS" <<EOF
[alerts]
webhook_url = http://127.0.0.1:$(cat "$HOOK/port")/hook
alert_interval = 3600
EOF
# shellcheck disable=SC2012 # numbered names only
lasthook() { ls -1v "$HOOK"/*.json 2>/dev/null | tail -n 1; }
hookfor() { # the log_tail of the last webhook about job $1
	python3 -c 'import json,sys,glob
last = None
for f in sorted(glob.glob(sys.argv[1] + "/*.json"), key=lambda p: int(p.rsplit("/",1)[1].split(".")[0])):
    d = json.load(open(f))
    if d.get("job") == sys.argv[2]:
        last = d
print(last["log_tail"] if last else "")' "$HOOK" "$1"
}
runlog() { cat "$BASE"/log/tisbackup_*.log 2>/dev/null; }
run() { tb_run -c "$CONF" --gui-config "$ALERTS" "$@"; }

SRC=$TMPD/src
mkdir -p "$SRC"
echo data >"$SRC/f"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$TMPD/stranger"
CLOSED=$(free_port)

cfg_global "$CONF"
cfg_job "$CONF" refused "$SRC" "private_key = $TMPD/stranger"
job_section "$CONF" dump "type = mysql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
	"private_key = $TMPD/stranger" "known_hosts_file = $KNOWN_HOSTS" "db_user = u" "db_passwd = p"
cfg_job "$CONF" hook "$SRC" "private_key = $TMPD/stranger" "preexec = true"
cfg_job "$CONF" closed "$SRC" "ssh_port = $CLOSED"
cfg_job "$CONF" nodns "$SRC" "server_name = tb-no-such-host.invalid"
cfg_job "$CONF" strict "$SRC" "host_key_policy = strict" "known_hosts_file = $TMPD/empty_known_hosts"
cfg_job "$CONF" good "$SRC"

# ================================================================ a refused key
AUTH_RE="the login was refused: add the public key \($TMPD/stranger\.pub\) to ~root/\.ssh/authorized_keys on 127\.0\.0\.1"
SSH_RE='ssh: root@127\.0\.0\.1: Permission denied \(publickey\)\.'
run -s refused,dump,hook backup
t_rc 1 "a refused key: the backup fails (exit 1)"
for j in refused dump hook; do
	log=$(last_row "$j" log)
	t_eq ERROR "$(last_row "$j" status)" "$j: refused key: an ERROR row"
	t_match "$AUTH_RE" "$log" "$j: refused key: the row says what to do"
	t_match "$SSH_RE" "$log" "$j: refused key: the row quotes ssh's own line (user@host: prefix)"
	t_nomatch 'exit code 255 is ssh|the ssh connection failed' "$log" "$j: no bare 'exit code 255' guess"
	t_match "$AUTH_RE" "$(hookfor "$j")" "$j: refused key: the alert carries the next step"
done
t_match "\[refused\] .*$SSH_RE|\[refused\] .*Permission denied \(publickey\)" "$(runlog)" \
	"the run log has ssh's line without -l debug"
t_match "$AUTH_RE" "$T_ERR" "stderr says what to do"
t_eq 1 "$(last_row refused log | grep -c 'Permission denied')" "ssh's line is quoted once"
t_match 'preexec' "$(last_row hook log)" "hook: the row still names the preexec step"

# The job page of the web UI shows the row's log (last_log of the API).
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
t_match "$AUTH_RE" "$(curl -s -u alice:alice-pw-1 "$WEB/api/v1/jobs/refused" | jq_py 'd["last_log"]')" \
	"the job page (API last_log) says what to do"
web_stop

# ================================================================ closed port, DNS, strict
run -s closed,nodns,strict backup
t_rc 1 "closed port, unknown host, strict: the backup fails"
t_match "the connection was refused: nothing accepts connections on 127\.0\.0\.1 port $CLOSED: check that sshd runs there and ssh_port" \
	"$(last_row closed log)" "closed port: the next step"
t_match "ssh: connect to host 127\.0\.0\.1 port $CLOSED: Connection refused" "$(last_row closed log)" \
	"closed port: ssh's own line"
t_match "the host name does not resolve: check server_name \('tb-no-such-host\.invalid'\) and the DNS" \
	"$(last_row nodns log)" "unknown host: the next step"
t_match 'Could not resolve hostname tb-no-such-host\.invalid' "$(last_row nodns log)" "unknown host: ssh's own line"
t_match "host_key_policy = strict and \[127\.0\.0\.1\]:$SSHD_PORT is not in $TMPD/empty_known_hosts: check its fingerprint, then add it \(\`ssh-keyscan -p $SSHD_PORT 127\.0\.0\.1 >> $TMPD/empty_known_hosts\`\)" \
	"$(last_row strict log)" "strict, unlisted host: the next step"
t_match 'No ED25519 host key is known for' "$(last_row strict log)" "strict, unlisted host: ssh's own line"

# ================================================================ a changed host key
run -s good backup
t_rc 0 "a good backup records the host key"
sshd_restart_newkey || t_bail "sshd did not restart with a new key"
wait_next_second
run -s good backup
t_rc 1 "the host key changed: the backup fails"
log=$(last_row good log)
t_match "the host key changed: the server sent another key than the one recorded for \[127\.0\.0\.1\]:$SSHD_PORT: check why" \
	"$log" "changed host key: the row says so"
t_match 'ssh: WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!' "$log" "changed host key: ssh's own line"
t_match 'ssh: Host key verification failed\.' "$log" "changed host key: ssh's last line"
t_nomatch 'IT IS POSSIBLE|@@@@' "$log" "changed host key: ssh's warning box is not pasted whole"
t_match 'the host key changed' "$(hookfor good)" "changed host key: the alert says so"
# shellcheck disable=SC2016 # the backquotes are in the message
cmd=$(printf '%s\n' "$log" | sed -n 's/.*then `\(ssh-keygen [^`]*\)`.*/\1/p')
t_match "^ssh-keygen -f $KNOWN_HOSTS -R \[127\.0\.0\.1\]:$SSHD_PORT\$" "$cmd" "changed host key: the exact ssh-keygen command"
# The admin checks, then runs the printed command as is.
read -r -a argv <<<"$cmd"
t_ok "the printed ssh-keygen command runs" "${argv[@]}"
wait_next_second
run -s good backup
t_rc 0 "after the printed step, the backup works again"
t_eq OK "$(last_row good status)" "the row is OK again"

t_done
