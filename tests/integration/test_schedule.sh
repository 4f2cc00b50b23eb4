#!/usr/bin/env bash
#
# The schedule keys seen from the command line: a malformed `schedule` or
# `cleanup_schedule` (in a job or in [global]) makes every action refuse
# the configuration with exit code 3 and a line naming FILE:LINE, the
# section, the key and what is wrong; valid schedules in every form are
# accepted; the sample cron file names real commands; `serve` with
# [scheduler] enabled catches up a missed slot once at start (and not a
# slot older than catch_up), into its real queue, and not again after a
# restart.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require curl sqlite3
tb_tmp

N=0
new_case() {
	N=$((N + 1))
	BASE=$TMPD/base_$N
	CONF=$TMPD/case_$N.ini
}

line_of() {
	grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1
}

CQ=$(printf '%s' "$TMPD" | sed 's#[][\.*^$+?(){}|]#\\&#g')

# bad_job_schedule KEY VALUE REASON-REGEX
bad_job_schedule() {
	local key=$1 value=$2 reason=$3 act L
	new_case
	cfg_global "$CONF"
	printf '[srv1]\ntype = null\nserver_name = srv1\n%s = %s\n\n' "$key" "$value" >>"$CONF"
	L=$(line_of "$CONF" "$key =")
	# The job cannot run, the others would (issue 17): exit 3, an ERROR row
	# for it, CRITICAL in checknagios.
	for act in backup cleanup checknagios; do
		tb_run -c "$CONF" "$act"
		if [ $act = checknagios ]; then
			t_rc 2 "$key = $value ($act): CRITICAL (exit 2)"
		else
			t_rc 3 "$key = $value ($act): exit code 3"
		fi
		t_match "$CQ/case_$N\.ini:$L: \[srv1\] $key: $reason" "$T_OUT"$'\n'"$T_ERR" \
			"$key = $value ($act): error names file:line, section, key and the reason"
	done
	t_eq "ERROR" "$(last_row srv1 status)" "$key = $value: srv1 recorded as ERROR"
	t_eq "" "$(ls "$BASE/srv1" 2>/dev/null)" "$key = $value: no backup made"
}

bad_job_schedule schedule '61 * * * *' "minute field '61': 61 is out of range 0-59"
bad_job_schedule schedule 'daily 25:00' "daily '25:00': hour 25 is out of range 0-23"
bad_job_schedule schedule '30 22 * *' "expected 5 fields"
bad_job_schedule cleanup_schedule '0 0 31 feb *' "day-of-month field '31': no such day"
bad_job_schedule cleanup_schedule 'dayly 12:30' "unknown schedule 'dayly'"

# ---- [global] default, malformed
new_case
cfg_global "$CONF" "schedule = 30 22 * * mon-fry"
cfg_null "$CONF" srv1
L=$(line_of "$CONF" "schedule =")
tb_run -c "$CONF" checknagios
t_rc 3 "[global] schedule malformed: exit code 3"
t_match "$CQ/case_$N\.ini:$L: \[global\] schedule: day-of-week field 'mon-fry': unknown name 'fry'" \
	"$T_OUT"$'\n'"$T_ERR" "[global] schedule malformed: named with its line"

# ---- a misspelt key: the closest known one is suggested
new_case
cfg_global "$CONF"
printf '[srv1]\ntype = null\nserver_name = srv1\ncleanup_shedule = daily 12:30\n' >>"$CONF"
tb_run -c "$CONF" backup
t_rc 3 "misspelt cleanup_schedule: exit code 3"
t_match "\[srv1\] cleanup_shedule: unknown key.*did you mean 'cleanup_schedule'" "$T_ERR" \
	"misspelt cleanup_schedule: suggestion"

# ---- every accepted form
new_case
cfg_global "$CONF" "schedule = daily 22:30" "cleanup_schedule = 30 12 * * *"
i=0
for s in '*/15 * * * *' '0 9 * * 1-5' '0 0 13 * fri' 'weekly sun 03:00' 'hourly :05' \
	'@daily' 'never' '' '0 2 29 feb *' '0,30 8-18/2 * jan-jun,dec 0,7'; do
	i=$((i + 1))
	printf '[srv%d]\ntype = null\nserver_name = s%d\nschedule = %s\ncleanup_schedule = %s\n\n' \
		"$i" "$i" "$s" "$s" >>"$CONF"
done
tb_run -c "$CONF" backup
t_rc 0 "valid schedules in every form: backup runs"
t_nomatch "schedule" "$T_ERR" "valid schedules: no complaint"

# ---- the sample cron file: backup at 22:30, cleanup at 12:30, real commands
CRON=$TB_SOURCE_ROOT/samples/tisbackup.cron
t_ok "samples/tisbackup.cron exists" test -f "$CRON"
t_match "^30 22 \* \* \* root .*tisbackup .*backup" "$(grep -v '^#' "$CRON")" "sample cron: backup at 22:30"
t_match "^30 12 \* \* \* root .*tisbackup .*cleanup" "$(grep -v '^#' "$CRON")" "sample cron: cleanup at 12:30"
# The schedules of the sample, as schedule keys, are valid.
new_case
cfg_global "$CONF" "schedule = $(awk '!/^#/ && / backup/ {print $1, $2, $3, $4, $5; exit}' "$CRON")" \
	"cleanup_schedule = $(awk '!/^#/ && / cleanup/ {print $1, $2, $3, $4, $5; exit}' "$CRON")"
cfg_null "$CONF" srv1
tb_run -c "$CONF" checknagios
t_ne 3 "$T_RC" "the sample's cron times are valid schedule keys"

# ---- serve: the scheduler thread, the state file, the real queue
new_case
BASE=$TMPD/serve_base
CONF=$TMPD/serve.ini
NOW=$(date +%s)
hm() { date -d "@$1" +%H:%M; }
cfg_global "$CONF"
# recent: its slot passed 30 min ago, after its last recorded run -> caught up once
printf '[recent]\ntype = null\nserver_name = recent\nschedule = daily %s\n\n' \
	"$(hm $((NOW - 1800)))" >>"$CONF"
# old: its slot passed 13 h ago, more than catch_up (12 h) -> skipped
printf '[old]\ntype = null\nserver_name = old\nschedule = daily %s\n\n' \
	"$(hm $((NOW - 13 * 3600)))" >>"$CONF"
# fresh: never seen before -> counts from now, nothing caught up
printf '[fresh]\ntype = null\nserver_name = fresh\nschedule = daily %s\n\n' \
	"$(hm $((NOW - 600)))" >>"$CONF"
cfg_null "$CONF" manual
mkdir -p "$BASE/log"
STATE=$BASE/log/tisbackup-scheduler.state
{
	echo "# written by the test"
	echo "$((NOW - 2 * 86400)) backup recent $CONF"
	echo "$((NOW - 2 * 86400)) backup old $CONF"
} >"$STATE"
web_config
sed -i 's/^enabled = no$/enabled = yes/' "$GUI"
QDB=$BASE/log/tisbackup-queue.sqlite
runs_of() { # runs_of SECTION: scheduled backup runs of SECTION
	sqlite3 "$QDB" "SELECT count(*) FROM queue_runs WHERE action = 'backup'
	  AND requested_by = 'scheduler' AND sections LIKE '%$1%'" 2>/dev/null
}
has_run() { [ "$(runs_of "$1")" = 1 ]; }
state_has() { grep -q " backup $1 " "$STATE"; }
web_start
wait_until 10 has_run recent
t_eq 1 "$(runs_of recent)" "serve: a slot missed 30 min ago runs once at start (catch-up)"
wait_until 10 state_has fresh
t_eq 0 "$(runs_of old)" "serve: a slot missed 13 h ago (> catch_up) is skipped"
t_eq 0 "$(runs_of fresh)" "serve: a job never seen before is not caught up"
t_eq 0 "$(runs_of manual)" "serve: a job without a schedule is never queued"
t_eq "$CONF" "$(sqlite3 "$QDB" "SELECT config FROM queue_runs WHERE requested_by = 'scheduler' LIMIT 1")" \
	"serve: the run names the config file of the job"
t_match "\[recent\] scheduled backup: queued run .*catching up" "$(cat "$TMPD/serve.err")" \
	"serve: the catch-up is logged"
t_match "\[old\] scheduled backup: slot missed more than 43200 s ago, skipped" \
	"$(cat "$TMPD/serve.err")" "serve: the skipped slot is logged"
SLOT=$(awk '$2 == "backup" && $3 == "recent" {print $1}' "$STATE")
t_ok "serve: the state file records the slot handled" test "${SLOT:-0}" -gt $((NOW - 1900)) -a "${SLOT:-0}" -le "$NOW"
web_stop
t_eq 0 "$?" "serve with the scheduler stops on SIGTERM with exit 0"

# A restart right after, with one more job: nothing is run again. The new
# job enters the state file at the end of the first pass.
printf '[fresh2]\ntype = null\nserver_name = fresh2\nschedule = daily %s\n\n' \
	"$(hm $((NOW - 600)))" >>"$CONF"
web_start
wait_until 10 state_has fresh2
t_eq 1 "$(runs_of recent)" "serve restarted: the slot already handled is not run again"
t_eq 0 "$(runs_of old)" "serve restarted: still nothing for the skipped slot"
web_stop

t_done
