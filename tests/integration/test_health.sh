#!/usr/bin/env bash
#
# Health that tells the truth (issue 20 part 2): after a good backup and
# four failed runs in a row, the API (what the dashboard draws) shows the
# last attempt failed and never "ok"; checknagios stays OK as the original
# did, but says WARNING with [global] nagios_warn_on_failed_attempt = yes;
# maximum_backup_age_warning is a warning threshold below
# maximum_backup_age (verdict and perfdata); a job that never succeeded
# has an age of 'U' in the perfdata; a usage error of checknagios exits 3
# (UNKNOWN), not 2.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen python3 curl
tb_tmp
sshd_start

SRC=$TMPD/src
mkdir -p "$SRC"
echo data >"$SRC/f"
FLAG=$TMPD/flag
touch "$FLAG"

write_conf() {
	cfg_global "$CONF" "$@"
	cfg_job "$CONF" flaky "$SRC" "preexec = test -e $FLAG || { echo 'the flag file is missing'; exit 4; }"
	cfg_job "$CONF" steady "$SRC" "schedule = daily 03:00"
	cfg_job "$CONF" never "$SRC" "preexec = echo 'never works'; exit 5"
	cfg_null "$CONF" nothing
}
write_conf

tb_run -c "$CONF" backup
t_eq "OK OK ERROR" "$(last_row flaky status) $(last_row steady status) $(last_row never status)" \
	"first run: flaky and steady OK, never fails"
rm "$FLAG"
for i in 1 2 3 4; do
	wait_next_second
	tb_run -c "$CONF" -s flaky backup
	t_rc 1 "failed run $i of flaky"
done
t_eq 4 "$(csql "select count(*) from stats where backup_name='flaky' and status='ERROR'")" \
	"four ERROR rows after the good one"

# ================================================================ checknagios
tb_run -c "$CONF" -s flaky,steady checknagios
t_rc 0 "by default checknagios stays OK while the last good backup is recent (the original's rule)"
t_match "^ALL backups OK .*'flaky_age'=[0-9]+s;108000;108000;0" "$T_OUT" "perfdata: flaky's age, warning = critical = maximum_backup_age"

write_conf "nagios_warn_on_failed_attempt = yes"
tb_run -c "$CONF" -s flaky,steady checknagios
t_rc 1 "nagios_warn_on_failed_attempt = yes: WARNING (exit 1)"
t_match '^WARNING backups flaky ' "$T_OUT" "the summary names flaky"
t_match "^\[flaky\]:WARNING : the last attempt of flaky failed \([0-9T:.-]+, ERROR\): preexec failed on 127\.0\.0\.1 \(exit code 4\); the last good backup is 0\.[0-9] h old" \
	"$T_OUT" "flaky's line: the failed attempt, its first log line, the good backup's age"
t_match '^\[steady\]:OK ' "$T_OUT" "steady stays OK"

# ================================================================ warning age
write_conf "maximum_backup_age_warning = 4"
# steady's good backup ended 5 h ago (still in its folder).
csql "update stats set backup_end = '$(iso_ago 18000).000000' where backup_name='steady' and status='OK'"
tb_run -c "$CONF" -s steady,never,nothing checknagios
t_rc 2 "never (no good backup) makes it CRITICAL"
t_match "^\[steady\]:WARNING : the last good backup of steady is 5\.0 h old \(warning after 4 h, critical after 30 h\)" \
	"$T_OUT" "maximum_backup_age_warning: WARNING past 4 h"
t_match "'steady_age'=1800[0-9]s;14400;108000;0" "$T_OUT" "perfdata: distinct warning and critical thresholds"
t_match "'never_age'=U;14400;108000;0" "$T_OUT" "perfdata: a job without a good backup has age U"
t_nomatch "'nothing_age'" "$T_OUT" "a null job has no age"
tb_run -c "$CONF" -s steady checknagios
t_rc 1 "steady alone: WARNING (exit 1)"

write_conf "maximum_backup_age_warning = 40"
tb_run -c "$CONF" -s steady checknagios
t_rc 0 "a warning age not below maximum_backup_age is ignored"

# ================================================================ usage errors
tb_run -c "$CONF" checknagios --no-such-option
t_rc 3 "checknagios with an unknown option: exit 3 (UNKNOWN)"
t_match '^UNKNOWN : usage error' "$T_OUT" "... with an UNKNOWN line on stdout"
t_match 'unknown option' "$T_ERR" "... and the reason on stderr"
tb_run -c "$CONF" --no-such-option checknagios
t_rc 3 "an unknown option before checknagios: exit 3"
tb_run -c "$CONF" checknagios extra
t_rc 3 "checknagios with an extra word: exit 3"
tb_run -c "$CONF" backup --no-such-option
t_rc 2 "other actions keep exit 2 for a usage error"

# ================================================================ API (the dashboard's data)
write_conf
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
jobs=$(curl -s -u alice:alice-pw-1 "$WEB/api/v1/jobs")
job() { printf '%s' "$jobs" | jq_py "[j for j in d['items'] if j['name'] == '$1'][0]$2"; }
t_eq warning "$(job flaky "['health']")" "API: flaky's health is warning, not ok (its last attempt failed)"
t_eq true "$(job flaky "['last_attempt_failed']")" "API: last_attempt_failed"
t_eq ERROR "$(job flaky "['last_status']")" "API: last_status ERROR"
t_match 'flag file is missing' "$(job flaky "['last_error']")" "API: last_error is the failed attempt's log"
t_match '^[0-9.]+$' "$(job flaky "['age_hours']")" "API: the last good backup's age is still given"
t_eq false "$(job steady "['last_attempt_failed']")" "API: steady's last attempt did not fail"
t_eq null "$(job steady "['last_error']")" "API: no last_error for steady"
t_eq critical "$(job never "['health']")" "API: never is critical"
t_match 'No recent backup|No backup' "$(job never "['health_message']")" "API: health_message says why"
# Schedules and next runs (part 6).
t_eq "daily 03:00" "$(job steady "['schedule']")" "API: steady's schedule"
t_eq "$(date -d "$( [ "$(date +%H%M)" -lt 0300 ] && echo today || echo tomorrow) 03:00" +%Y-%m-%dT%H:%M:%S%:z)" \
	"$(job steady "['next_run']")" "API: next_run is the next 03:00, local time with its UTC offset"
t_eq never "$(job flaky "['next_run']")" "API: an unscheduled job's next_run is never"
t_eq never "$(job steady "['next_cleanup']")" "API: no cleanup_schedule: next_cleanup never"
metrics=$(curl -s -u alice:alice-pw-1 "$WEB/metrics")
t_match "^tisbackup_job_next_run_timestamp_seconds\{backup_job=\"steady\".*,action=\"backup\"\} $(date -d "$( [ "$(date +%H%M)" -lt 0300 ] && echo today || echo tomorrow) 03:00" +%s)\$" \
	"$metrics" "/metrics: steady's next run as a timestamp"
t_match '^tisbackup_job_next_run_timestamp_seconds\{backup_job="flaky".*,action="backup"\} \+Inf$' "$metrics" \
	"/metrics: never is +Inf"
if command -v promtool >/dev/null 2>&1; then
	t_ok "promtool check metrics accepts /metrics" sh -c "printf '%s\n' \"\$1\" | promtool check metrics" _ "$metrics"
fi
web_stop

t_done
