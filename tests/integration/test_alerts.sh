#!/usr/bin/env bash
#
# Alerts (docs/alerts.md) against a real SMTP sink and a real HTTP
# listener (alert_sinks.py), both on loopback: a job's first failure sends
# one mail and one webhook; a second failure within alert_interval sends
# nothing; recovery sends "recovered"; OK -> OK sends nothing; a failure
# after the interval sends a reminder; mail_to lists several recipients;
# an SMTP server that is down or a webhook answering 500 is a warning in
# the run log and never changes the job's result; the SMTP password is in
# no argv and no log; a dry run sends nothing. Failures come from a
# preexec that tests for a flag file on the (test) sshd.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen python3
tb_tmp
sshd_start

SINKS=$(dirname "${BASH_SOURCE[0]}")/alert_sinks.py
MAIL=$TMPD/mail
HOOK=$TMPD/hook
mkdir -p "$MAIL" "$HOOK"

# start_sink KIND DIR: start alert_sinks.py, wait for its port file.
start_sink() {
	python3 "$SINKS" "$1" "$2" >"$2/server.log" 2>&1 &
	tb_track $!
	wait_until 10 test -s "$2/port" || t_bail "the $1 sink did not start: $(cat "$2/server.log")"
	cat "$2/port"
}
SMTP_PORT=$(start_sink smtp "$MAIL")
HTTP_PORT=$(start_sink http "$HOOK")

SRC=$TMPD/src
mkdir -p "$SRC"
printf 'data\n' >"$SRC/file.txt"
FLAGS=$TMPD/flags
mkdir -p "$FLAGS"

# A job fails while $FLAGS/<job> is missing: its preexec tests for it.
cfg_global "$CONF"
for j in web web2 web3 web4 web5 par1 par2 auth; do
	cfg_job "$CONF" "$j" "$SRC" "preexec = test -e $FLAGS/$j || { echo 'flag $j missing'; exit 7; }"
	touch "$FLAGS/$j"
done
cfg_null "$CONF" nulljob

GUI=$TMPD/gui.ini
cat >"$GUI" <<EOF
[general]
ADMIN_EMAIL = admin@example.org

[alerts]
smtp_url = smtp://127.0.0.1:$SMTP_PORT
webhook_url = http://127.0.0.1:$HTTP_PORT/hook/secret-token-42
alert_interval = 3600
EOF

nmail() { find "$MAIL" -name '*.eml' | wc -l; }
nhook() { find "$HOOK" -name '*.json' | wc -l; }
# shellcheck disable=SC2012 # numbered names only
lastmail() { ls -1v "$MAIL"/*.eml 2>/dev/null | tail -n 1; }
# shellcheck disable=SC2012
lasthook() { ls -1v "$HOOK"/*.json 2>/dev/null | tail -n 1; }
jget() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"; }
runlog() { cat "$BASE"/log/tisbackup_*.log 2>/dev/null; }
astate() { csql "select last_state from alerts where backup_name='$1'"; }
# age_alert JOB SECONDS: pretend the job's last alert is that much older.
age_alert() { csql "update alerts set last_sent_epoch = last_sent_epoch - $2 where backup_name='$1'"; }
run() { tb_run -c "$CONF" --gui-config "$GUI" "$@"; }

# ================================================================ first run OK: nothing
run -s web backup
t_rc 0 "first run OK: exit 0"
t_eq "0 0" "$(nmail) $(nhook)" "first-ever run OK: no mail, no webhook"

# ================================================================ OK -> ERROR
rm "$FLAGS/web"
run -s web backup
t_rc 1 "failing job: exit 1"
t_eq "1 1" "$(nmail) $(nhook)" "OK -> ERROR: one mail and one webhook"
M=$(lastmail)
H=$(lasthook)
msg=$(tr -d '\r' <"$M")
t_match '^Subject: \[tisbackup\] web on 127\.0\.0\.1: FAILED$' "$msg" "mail subject"
t_match '^To: admin@example\.org$' "$msg" "mail To is ADMIN_EMAIL (mail_to's default)"
t_match "^From: tisbackup@$(hostname)\$" "$msg" "mail From defaults to tisbackup@host"
t_match '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}$' "$msg" "RFC 5322 Date"
t_match '^Message-ID: <[^ ]+@[^ ]+>$' "$msg" "Message-ID"
t_match '^MIME-Version: 1\.0$' "$msg" "MIME-Version"
t_match '^Content-Type: text/plain; charset=utf-8$' "$msg" "Content-Type"
t_match '^Job: +web$' "$msg" "body: job"
t_match '^Server: +127\.0\.0\.1$' "$msg" "body: server"
t_match '^Type: +rsync\+ssh$' "$msg" "body: type"
t_match '^Status: +ERROR$' "$msg" "body: status"
t_match '^Previous: +OK$' "$msg" "body: previous status"
t_match '^Started: +[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$msg" "body: start"
t_match '^Duration: +[0-9.]+ s$' "$msg" "body: duration"
t_match "^Host: +$(hostname)\$" "$msg" "body: host name"
t_match 'flag web missing' "$msg" "body: the catalog log"
t_nomatch $'\r' "$(grep -av $'\r$' "$M")" "every mail line ends with CRLF"
t_eq "from <tisbackup@$(hostname)>
rcpt <admin@example.org>" "$(cat "${M%.eml}.env")" "SMTP envelope: MAIL FROM and RCPT TO"
t_eq failed "$(jget "$H" event)" "webhook: event failed"
t_eq web "$(jget "$H" job)" "webhook: job"
t_eq 127.0.0.1 "$(jget "$H" server)" "webhook: server"
t_eq rsync+ssh "$(jget "$H" type)" "webhook: type"
t_eq ERROR "$(jget "$H" status)" "webhook: status"
t_eq "$(hostname)" "$(jget "$H" host)" "webhook: host"
t_eq false "$(jget "$H" reminder)" "webhook: not a reminder"
t_match '^[0-9.]+$' "$(jget "$H" duration_s)" "webhook: duration_s is a number"
t_match 'flag web missing' "$(jget "$H" log_tail)" "webhook: log_tail"
t_eq "$(csql "select backup_start from stats where backup_name='web' order by rowid desc limit 1")" \
	"$(jget "$H" start)" "webhook: start is the row's backup_start"
t_imatch '^Content-Type: application/json$' "$(cat "${H%.json}.hdr")" "webhook: Content-Type application/json"
t_eq /hook/secret-token-42 "$(cat "${H%.json}.path")" "webhook: POSTed to the configured path"
t_eq failed "$(astate web)" "alerts table: last_state failed"
t_eq "web|server_name" "$(csql "select backup_name, 'server_name' from stats where backup_name='web' limit 1")" \
	"stats table unchanged in shape"

# ================================================================ ERROR -> ERROR within the interval
run -s web backup
t_rc 1 "second failure: exit 1"
t_eq "1 1" "$(nmail) $(nhook)" "second failure within alert_interval: nothing sent"
t_match '\[web\] alerts: no alert' "$(runlog)" "the run log says why nothing was sent"

# ================================================================ ERROR -> OK
touch "$FLAGS/web"
run -s web backup
t_rc 0 "recovered job: exit 0"
t_eq "2 2" "$(nmail) $(nhook)" "ERROR -> OK: a recovered mail and webhook (not rate limited)"
t_match '^Subject: \[tisbackup\] web on 127\.0\.0\.1: RECOVERED$' "$(tr -d '\r' <"$(lastmail)")" "recovered subject"
t_match '^Previous: +ERROR$' "$(tr -d '\r' <"$(lastmail)")" "recovered body: previous ERROR"
t_eq recovered "$(jget "$(lasthook)" event)" "webhook: event recovered"
t_eq OK "$(jget "$(lasthook)" status)" "webhook: status OK"

# ================================================================ OK -> OK
run -s web backup
t_rc 0 "OK again: exit 0"
t_eq "2 2" "$(nmail) $(nhook)" "OK -> OK: nothing sent"

# ================================================================ rate limit and reminder
rm "$FLAGS/web"
run -s web backup
t_eq "2 2" "$(nmail) $(nhook)" "failure within alert_interval of the recovered alert: nothing sent"
age_alert web 7200
run -s web backup
t_eq "3 3" "$(nmail) $(nhook)" "failure after alert_interval: failed sent"
t_eq false "$(jget "$(lasthook)" reminder)" "... not a reminder (the last alert said recovered)"
age_alert web 7200
# retryfailed runs the same code: a job without a good backup in 30 h.
csql "update stats set backup_start = '2000-01-01T00:00:00' where backup_name='web' and status='OK'"
tb_run -c "$CONF" --gui-config "$GUI" -s web retryfailed
t_rc 1 "retryfailed of the failing job: exit 1"
t_eq "4 4" "$(nmail) $(nhook)" "still failing after alert_interval (retryfailed): a reminder"
t_match 'still failing \(reminder\)' "$(tr -d '\r' <"$(lastmail)")" "reminder body says so"
t_match '^Subject: \[tisbackup\] web on 127\.0\.0\.1: FAILED$' "$(tr -d '\r' <"$(lastmail)")" "reminder subject"
t_eq true "$(jget "$(lasthook)" reminder)" "webhook: reminder true"

# ================================================================ dry run, null job
run -d -s web backup
t_eq "4 4" "$(nmail) $(nhook)" "dry run: nothing sent"
run -s nulljob backup
t_eq "4 4" "$(nmail) $(nhook)" "null job: nothing sent"

# ================================================================ two recipients
GUI2=$TMPD/gui2.ini
sed 's/^alert_interval.*/&\nmail_to = ops@example.org, backup-team@example.net/' "$GUI" >"$GUI2"
rm "$FLAGS/web2"
tb_run -c "$CONF" --gui-config "$GUI2" -s web2 backup
t_eq 5 "$(nmail)" "mail_to list: one message"
t_eq "from <tisbackup@$(hostname)>
rcpt <ops@example.org>
rcpt <backup-team@example.net>" "$(cat "$(lastmail | sed 's/\.eml$/.env/')")" "mail_to list: both recipients in the envelope"
t_match '^To: ops@example\.org,$' "$(tr -d '\r' <"$(lastmail)")" "To header: first recipient"
t_match '^ backup-team@example\.net$' "$(tr -d '\r' <"$(lastmail)")" "To header: second recipient (folded)"

# ================================================================ parallel jobs
rm "$FLAGS/par1" "$FLAGS/par2"
tb_run -c "$CONF" --gui-config "$GUI" -j 2 -s par1,par2 backup
t_rc 1 "two failing jobs at once: exit 1"
t_eq "7 7" "$(nmail) $(nhook)" "two failing jobs at once: one mail and one webhook each"
t_eq "par1
par2" "$(grep -h '^Subject:' "$MAIL"/6.eml "$MAIL"/7.eml | sed -E 's/.*\] (par[12]) on.*/\1/' | sort)" \
	"one mail per parallel job"

# ================================================================ SMTP down
DEAD=$(free_port)
GUI_DOWN=$TMPD/gui_down.ini
sed "s#^smtp_url.*#smtp_url = smtp://127.0.0.1:$DEAD#; /^webhook_url/d" "$GUI" >"$GUI_DOWN"
rm "$FLAGS/web3"
t0=$(date +%s%N)
tb_run -c "$CONF" --gui-config "$GUI_DOWN" -s web3 backup
t1=$(date +%s%N)
t_rc 1 "SMTP down, failing job: exit 1 (the job's result)"
t_eq ERROR "$(csql "select status from stats where backup_name='web3' order by rowid desc limit 1")" "SMTP down: ERROR row as usual"
t_match "WARNING \[web3\] alerts: failed alert not sent: mail through smtp://127\.0\.0\.1:$DEAD" "$(runlog)" \
	"SMTP down: a warning in the run log"
t_check "SMTP down: the run ends quickly ($(((t1 - t0) / 1000000)) ms < 15 s)" $(((t1 - t0) / 1000000 < 15000 ? 0 : 1))
t_eq "" "$(astate web3)" "nothing sent: the state is rolled back, the next run tries again"
tb_run -c "$CONF" --gui-config "$GUI" -s web3 backup
t_eq 8 "$(nmail)" "SMTP back: the failed alert goes out on the next run"

# A recovery while SMTP is down: exit 0 unchanged.
touch "$FLAGS/web3"
tb_run -c "$CONF" --gui-config "$GUI_DOWN" -s web3 backup
t_rc 0 "SMTP down, recovered job: exit 0 (unchanged)"
t_match "WARNING \[web3\] alerts: recovered alert not sent" "$(runlog)" "SMTP down: recovered not sent, warned"
tb_run -c "$CONF" --gui-config "$GUI" -s web3 backup
t_match 'RECOVERED$' "$(tr -d '\r' <"$(lastmail)" | grep '^Subject:')" "SMTP back: the recovered alert goes out on the next OK run"

# ================================================================ SMTP server hung
# It accepts the connection and never greets: libcurl's connect timeout
# (10 s, which covers the SMTP greeting) ends the wait.
HUNG=$TMPD/hung
mkdir -p "$HUNG"
HUNG_PORT=$(start_sink blackhole "$HUNG")
sed "s#^smtp_url.*#smtp_url = smtp://127.0.0.1:$HUNG_PORT#; /^webhook_url/d" "$GUI" >"$TMPD/gui_hung.ini"
rm "$FLAGS/web5"
t0=$(date +%s%N)
tb_run -c "$CONF" --gui-config "$TMPD/gui_hung.ini" -s web5 backup
t1=$(date +%s%N)
t_rc 1 "SMTP hung, failing job: exit 1 (the job's result)"
t_match "WARNING \[web5\] alerts: failed alert not sent: .*timed out" "$(runlog)" "SMTP hung: a timeout warning"
ms=$(((t1 - t0) / 1000000))
t_check "SMTP hung: the run ends within the timeout ($ms ms, between 9 and 25 s)" \
	$((ms >= 9000 && ms < 25000 ? 0 : 1))
touch "$FLAGS/web5"

# ================================================================ webhook answering 500
echo 500 >"$HOOK/status"
rm "$FLAGS/web4"
before=$(nhook)
tb_run -c "$CONF" --gui-config "$GUI" -s web4 backup
t_rc 1 "webhook 500: exit 1 (the job's result)"
t_eq $((before + 1)) "$(nhook)" "webhook 500: it was called"
t_match "WARNING \[web4\] alerts: failed alert not posted: webhook http://127\.0\.0\.1:$HTTP_PORT: answered HTTP 500" \
	"$(runlog)" "webhook 500: a warning in the run log"
t_match 'web4 on' "$(grep -h '^Subject:' "$(lastmail)")" "webhook 500: the mail still went out"
t_eq failed "$(astate web4)" "webhook 500 but mail sent: state recorded"
rm -f "$HOOK/status"

# ================================================================ SMTP AUTH, secrets
PW=pw-$RANDOM-$RANDOM-sEcReT
printf '%s\n' "$PW" >"$TMPD/smtp_password"
chmod 600 "$TMPD/smtp_password"
GUI_AUTH=$TMPD/gui_auth.ini
sed "s#^alert_interval.*#&\nsmtp_user = mailer\nsmtp_password_file = $TMPD/smtp_password#" "$GUI" >"$GUI_AUTH"
rm "$FLAGS/auth"
"$TISBACKUP" -c "$CONF" --gui-config "$GUI_AUTH" -s auth backup >"$TMPD/auth.out" 2>&1 &
pid=$!
: >"$TMPD/argv"
while kill -0 "$pid" 2>/dev/null; do
	ps -eo args >>"$TMPD/argv" 2>/dev/null
	sleep 0.05
done
wait "$pid"
t_eq 1 "$?" "SMTP AUTH, failing job: exit 1"
t_eq "mailer
$PW" "$(cat "$MAIL/auth" 2>/dev/null)" "SMTP AUTH PLAIN with smtp_user and the password file"
t_match 'auth on' "$(grep -h '^Subject:' "$(lastmail)")" "SMTP AUTH: mail sent"
t_num_ge 1 "$(grep -c . "$TMPD/argv")" "argv samples taken during the run"
t_eq 0 "$(grep -c -- "$PW" "$TMPD/argv")" "the SMTP password is in no process's argv"
t_eq 0 "$(cat "$TMPD/auth.out" "$BASE"/log/*.log | grep -c -- "$PW")" "the SMTP password is in no log"
t_eq 0 "$(cat "$TMPD/auth.out" "$BASE"/log/*.log | grep -c -- secret-token-42)" "the webhook URL's path (a token) is in no log"

# ================================================================ queue worker
# `tisbackup worker` runs each queued run as a child tisbackup, which reads
# [alerts] from the worker's own --gui-config.
QCTL=$(dirname "$TISBACKUP")/tests/tb_queuectl
if [ -x "$QCTL" ]; then
	GUI_Q=$TMPD/gui_queue.ini
	{
		sed '/^\[alerts\]/,$d' "$GUI"
		printf 'config_tisbackup = %s\n\n[queue]\nbackend = sqlite\nworkers = 1\n\n' "$CONF"
		sed -n '/^\[alerts\]/,$p' "$GUI"
	} >"$GUI_Q"
	"$TISBACKUP" --gui-config "$GUI_Q" worker >"$TMPD/worker.log" 2>&1 </dev/null &
	wpid=$!
	tb_track "$wpid"
	rm "$FLAGS/web4" 2>/dev/null
	cfg_job "$CONF" queued "$SRC" "preexec = test -e $FLAGS/queued || { echo 'flag queued missing'; exit 7; }"
	before=$(nmail)
	"$QCTL" "$GUI_Q" "$BASE/log" enqueue "$CONF" backup queued >/dev/null
	more_mail() { [ "$(nmail)" -gt "$before" ]; }
	# generous: under ASan on a loaded machine the worker, its child and ssh are slow
	wait_until 90 more_mail
	t_match '^Subject: \[tisbackup\] queued on 127\.0\.0\.1: FAILED$' "$(tr -d '\r' <"$(lastmail)")" \
		"a run executed by the queue worker sends its alert"
	t_eq 0 "$(grep -c -- secret-token-42 "$TMPD/worker.log")" "worker log: no webhook token"
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
else
	t_skip "a run executed by the queue worker sends its alert" "tb_queuectl not built"
fi

# ================================================================ bad [alerts] settings
printf '[alerts]\nsmtp_url = ftp://x\n' >"$TMPD/bad.ini"
touch "$FLAGS/web5"
tb_run -c "$CONF" --gui-config "$TMPD/bad.ini" -s web5 backup
t_rc 0 "invalid gui ini: backups still run"
t_match 'alerts disabled: .*smtp_url: expected smtp://' "$T_ERR" "invalid gui ini: warned, alerts disabled"
tb_run -c "$CONF" --gui-config "$TMPD/missing.ini" -s web5 backup
t_rc 0 "missing gui ini: fine, no alerts"
t_nomatch 'alerts' "$T_ERR" "missing gui ini: no warning"

t_done
