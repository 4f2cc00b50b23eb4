#!/usr/bin/env bash
#
# The schedule keys seen from the command line: a malformed `schedule` or
# `cleanup_schedule` (in a job or in [global]) makes every action refuse
# the configuration with exit code 3 and a line naming FILE:LINE, the
# section, the key and what is wrong; valid schedules in every form are
# accepted; the sample cron file names real commands.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
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
	for act in backup cleanup checknagios; do
		tb_run -c "$CONF" "$act"
		t_rc 3 "$key = $value ($act): exit code 3"
		t_match "$CQ/case_$N\.ini:$L: \[srv1\] $key: $reason" "$T_OUT"$'\n'"$T_ERR" \
			"$key = $value ($act): error names file:line, section, key and the reason"
	done
	t_ok "$key = $value: nothing written" test ! -e "$BASE"
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

t_done
