#!/usr/bin/env bash
#
# copy-vm-xcp against the XAPI simulator (tests/sim/xapi_sim.py): each
# run copies a fresh snapshot of the VM to the backup SR as a plain,
# marked, halted VM "zzz-VM-DATE" (":SS" added in the same minute) whose
# VIFs are on the backup network and which has no auto_poweron; max_copies
# keeps the newest copies (ours by marker, or the original's exact legacy
# labels) and never touches another VM's; a failing copy or VIF move
# fails the run with the snapshot destroyed, a halted VM started again
# and the old copies intact; delete_snapshot = no keeps the snapshot and
# the next run still copies a fresh one; HOST_IS_SLAVE is followed; the
# session is logged out in every outcome; checknagios asks the pool.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=xapi.sh
. "$(dirname "${BASH_SOURCE[0]}")/xapi.sh"

tb_require_binary
tb_require openssl curl jq sqlite3
tb_tmp

PW="cvx-Pw-$TB_ID-$RANDOM"
cat >"$TMPD/sim.json" <<EOF
{"user": "root", "password": "$PW",
 "vms": [{"name": "web", "other_config": {"auto_poweron": "true"},
          "disks": [{"size": 8192, "used": 6000}, {"size": 4096, "used": 3000}]},
         {"name": "web-prod", "disks": [{"size": 4096}]},
         {"name": "zzz-web-2020-01-01 00:00", "power_state": "Halted", "disks": [{"size": 4096}]},
         {"name": "zzz-web-prod-2020-01-01 00:00", "power_state": "Halted", "disks": [{"size": 4096}]}]}
EOF
xapi_sim_start "$TMPD/sim.json"
printf 'root\n%s\n' "$PW" >"$TMPD/pw"
chmod 600 "$TMPD/pw"

conf() {
	local -A kv=([type]=copy-vm-xcp [server_name]="127.0.0.1:$XAPI_PORT" [vm_name]=web
		[storage_name]=backup-sr [network_name]=backup-net [password_file]="$TMPD/pw"
		[xcp_ca_file]="$XAPI_CERT" [max_copies]=2)
	local a args=()
	for a in "$@"; do kv[${a%%=*}]=${a#*=}; done
	for a in "${!kv[@]}"; do [ -n "${kv[$a]}" ] && args+=("$a=${kv[$a]}"); done
	cfg_global "$CONF"
	job_section "$CONF" cvx "${args[@]}"
}

RUN_FROM=1
run_backup() {
	local faults=$1
	shift
	xapi_faults "$faults"
	conf "$@"
	RUN_FROM=$(($(xapi_log_lines) + 1))
	tb_run -c "$CONF" -s cvx backup
}
calls() {
	tail -n +"$RUN_FROM" "$XAPI_LOG" | jq -r 'select(.method != "export end") | .method + " " + .status'
}
# copies: the labels of the non-template, non-snapshot VMs called zzz-*, sorted.
copies() {
	xapi_state '[.VM[] | select((.is_a_snapshot | not) and (.is_a_template | not) and (.name_label | startswith("zzz-"))) | .name_label] | sort | .[]'
}
snapshots_of_web() {
	xapi_state '.VM as $v | [.VM[] | select(.is_a_snapshot and $v[.snapshot_of].name_label == "web")] | length'
}
web_power() {
	xapi_state '.VM[] | select(.name_label == "web" and (.is_a_snapshot | not)) | .power_state'
}

# ================================================================ a first copy
run_backup '{}'
t_rc 0 "a copy of web: OK"
t_eq "OK|1|0|0|backup-sr" "$(last_row cvx "status,total_files_count,written_files_count,written_bytes,backup_location")" \
	"the row: OK, one VM, nothing written locally, the SR as location"
t_eq 9000 "$(last_row cvx total_bytes)" "total_bytes: the copy's physical utilisation"
t_match '^copy of cvx to an other storage OK as "zzz-web-[0-9-]+ [0-9:]+"$' "$(last_row cvx log)" "the original's log words, and the label"
new=$(xapi_state '.VM[] | select(.other_config["tisbackup:job"] == "cvx" and (.is_a_snapshot | not))')
t_eq "false false Halted" "$(echo "$new" | jq -r '"\(.is_a_template) \(.is_a_snapshot) \(.power_state)"')" \
	"the copy is a plain halted VM"
t_eq "$(xapi_state '.VM[] | select(.name_label == "web") | .uuid')" "$(echo "$new" | jq -r '.other_config["tisbackup:copy_of"]')" \
	"marked as a copy of web's uuid"
t_eq "null" "$(echo "$new" | jq -r '.other_config.auto_poweron')" "no auto_poweron on the copy"
net=$(xapi_state '.network | to_entries[] | select(.value.name_label == "backup-net") | .key')
t_eq "$net" "$(xapi_state '.VM as $v | [.VIF[] | select($v[.VM].other_config["tisbackup:job"] == "cvx" and ($v[.VM].is_a_snapshot | not)) | .network] | unique | .[]')" \
	"its VIFs are on the backup network (VIF.move)"
t_eq 0 "$(snapshots_of_web)" "the snapshot is destroyed"
t_eq "session.logout Success" "$(calls | tail -1)" "logged out"
t_match '^VIF.move Success$' "$(calls)" "VIF.move is used"
t_eq "zzz-web-2020-01-01 00:00
$(last_row cvx log | sed 's/.*as "\(.*\)"$/\1/')
zzz-web-prod-2020-01-01 00:00" "$(copies)" "max_copies 2: the legacy copy and the new one are kept"

# ================================================================ rotation, same minute
run_backup '{}'
t_rc 0 "a second copy: OK"
t_eq 2 "$(copies | grep -c '^zzz-web-2[0-9]')" "max_copies 2: two copies of web"
t_nomatch '^zzz-web-2020' "$(copies)" "the oldest (the original's legacy copy) is destroyed"
t_match '^zzz-web-prod-2020-01-01 00:00$' "$(copies)" "web-prod's look-alike copy is untouched"
t_eq 2 "$(copies | grep '^zzz-web-2' | sort -u | wc -l)" "two runs in one minute get distinct labels"
t_nomatch 'VM.hard_shutdown' "$(calls)" "no kept copy is shut down"

run_backup '{}' max_copies=1
t_rc 0 "max_copies 1: OK"
t_eq 1 "$(copies | grep -c '^zzz-web-2[0-9]')" "max_copies 1: one copy of web"
t_eq 1 "$(xapi_state '[.VM[] | select(.name_label == "web-prod")] | length')" "web-prod itself untouched"

# ================================================================ failures
before=$(copies)
run_backup '{"copy_fail": true}' halt_vm=yes
t_rc 1 "VM.copy fails: the run fails"
t_match 'SR_BACKEND_FAILURE_44' "$(last_row cvx log)" "with xapi's words"
t_eq Running "$(web_power)" "halt_vm: web runs again"
t_eq "$before" "$(copies)" "the old copies are intact"
t_eq "session.logout Success" "$(calls | tail -1)" "logged out"

run_backup '{"vif_create_fail": true, "no_vif_move": true}'
t_rc 1 "VIF.create fails (no VIF.move on this pool): the run fails"
t_match 'VIF.create' "$(last_row cvx log)" "the log names VIF.create"
t_eq 0 "$(snapshots_of_web)" "the snapshot is destroyed"
t_match '^VIF.move Failure
VIF.get_record Success
VIF.create Failure$' "$(calls | grep '^VIF')" "VIF.move unknown, then create first"
t_nomatch '^VIF.destroy' "$(calls)" "the old VIF is never destroyed before its replacement exists"
t_eq "" "$(comm -23 <(echo "$before") <(copies))" "the old copies are intact (the new one is left, named in the log)"
t_eq "session.logout Success" "$(calls | tail -1)" "logged out"

run_backup '{"no_vif_move": true}' max_copies=1
t_rc 0 "a pool without VIF.move: create then destroy"
t_match '^VIF.create Success
VIF.destroy Success$' "$(calls | grep -E '^VIF.(create|destroy)')" "create, then destroy"
t_eq 1 "$(copies | grep -c '^zzz-web-2[0-9]')" "max_copies 1 again: the failed run's copy is rotated away too"

# ================================================================ delete_snapshot = no, start_vm
run_backup '{}' delete_snapshot=no
t_rc 0 "delete_snapshot = no: OK"
kept=$(xapi_state '.VM | to_entries[] | select(.value.is_a_snapshot and .value.other_config["tisbackup:kept"] != null) | .key')
t_ne "" "$kept" "the snapshot is kept and marked"
run_backup '{}' start_vm=yes
t_rc 0 "the next run: OK"
src=$(tail -n +"$RUN_FROM" "$XAPI_LOG" | jq -r 'select(.method == "Async.VM.copy") | .args[1]')
t_ne "$kept" "$src" "it copies a fresh snapshot, not the kept one"
t_eq 1 "$(xapi_state "[.VM[\"$kept\"]] | map(select(. != null)) | length")" "the kept snapshot stays"
started=$(tail -n +"$RUN_FROM" "$XAPI_LOG" | jq -r 'select(.method == "Async.VM.start") | .args[1]' | tail -1)
t_eq Running "$(xapi_state ".VM[\"$started\"] | select(.other_config[\"tisbackup:stamp\"] != null and (.is_a_snapshot | not)) | .power_state")" \
	"start_vm: the copy runs"
t_eq "rm
start" "$(tail -n +"$RUN_FROM" "$XAPI_LOG" | jq -r 'if .method == "VM.remove_from_other_config" and .args[2] == "auto_poweron" then "rm" elif .method == "Async.VM.start" then "start" else empty end')" \
	"auto_poweron is removed before the copy starts"

# ================================================================ HOST_IS_SLAVE, wrong password, nagios
run_backup '{}' "server_name=127.0.0.1:$XAPI_SLAVE_PORT"
t_rc 0 "HOST_IS_SLAVE: OK through the master"
t_eq "session.login_with_password Failure
session.login_with_password Success" "$(calls | head -2)" "the login moved to the master"

printf 'root\nbad\n' >"$TMPD/pw.bad"
chmod 600 "$TMPD/pw.bad"
run_backup '{}' "password_file=$TMPD/pw.bad"
t_rc 1 "a wrong password fails the run"
t_eq "XAPI login as root refused (SESSION_AUTHENTICATION_FAILED)" "$(last_row cvx log)" "with a clear message"

conf
tb_run -c "$CONF" -s cvx checknagios
t_rc 0 "checknagios: OK, a copy is on the pool"
t_nomatch "$PW" "$(cat "$TMPD/.out" "$TMPD/.err" "$XAPI_LOG"; csql 'select log from stats')" \
	"the password is in no output, log or row"
t_done
