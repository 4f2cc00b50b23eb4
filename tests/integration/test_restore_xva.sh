#!/usr/bin/env bash
#
# restore --import-to SR of xen-xva jobs against the XAPI simulator
# (tests/sim/xapi_sim.py, itself checked with os_xenapi in test_xapi_sim):
# the backup's XVA is uploaded with PUT /import into the SR named by its
# name label or UUID, the simulator receives exactly the file's bytes and
# makes a new VM, which gets the name "SERVER (restored STAMP)"; an unknown
# or ambiguous SR is refused before any byte is sent; a corrupt XVA stops
# the upload before xapi has all of it; a failed import task fails the
# restore with XAPI's own words; each restore is a RESTORE row; the
# option is refused for other job types; the password and the session are
# in no argv, output, log or row; the task is destroyed and the session
# logged out in every outcome; the same import queued through the REST
# API (import_to, as the web form sends it) runs in serve's worker.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=xapi.sh
. "$(dirname "${BASH_SOURCE[0]}")/xapi.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require openssl curl jq sqlite3 gzip tar sha256sum
tb_tmp

PW="xva-Pw-$TB_ID-$RANDOM"
MIB=1048576
cat >"$TMPD/sim.json" <<EOF
{"user": "root", "password": "$PW",
 "srs": ["local-sr", "backup-sr", "twin-sr", "twin-sr"],
 "vms": [{"name": "web01", "disks": [{"size": $((3 * MIB + 4096)), "zeros": [1]}, {"size": $MIB}]}]}
EOF
xapi_sim_start "$TMPD/sim.json"
printf 'root\n%s\n' "$PW" >"$TMPD/pw"
chmod 600 "$TMPD/pw"
JOBDIR=$BASE/web
cfg_global "$CONF"
job_section "$CONF" web type=xen-xva server_name=web01 "xcphost=127.0.0.1:$XAPI_PORT" \
	"password_file=$TMPD/pw" "xcp_ca_file=$XAPI_CERT" stall_timeout=60
job_section "$CONF" nothing type=null server_name=localhost

FROM=1
# calls: the call log's "METHOD STATUS" lines since the last mark.
calls() { tail -n +"$FROM" "$XAPI_LOG" | jq -r 'select(.method != "export end") | .method + " " + .status'; }
mark() { FROM=$(($(xapi_log_lines) + 1)); }
nimports() { xapi_state '.imports | length'; }
imports_past() { [ "$(nimports)" -gt "$1" ]; }
restored_vms() { xapi_state '[.VM[] | select(.name_label | test("restored"))] | length'; }

tb_run -c "$CONF" -s web backup
t_rc 0 "a backup of web01 to restore"
xva=
for f in "$JOBDIR"/web-*.xva; do [ -f "$f" ] && xva=${f##*/}; done
stamp=${xva#web-}
stamp=${stamp%.xva}
size=$(stat -c %s "$JOBDIR/$xva")

# ---------------------------------------------------------------- import by name label
mark
tb_run -c "$CONF" -s web restore --import-to backup-sr
t_rc 0 "restore --import-to backup-sr: exit 0"
vm=$(xapi_state ".VM | to_entries[] | select(.value.name_label == \"web01 (restored $stamp)\") | .key")
t_ne "" "$vm" "a new VM called 'web01 (restored $stamp)' is on the pool"
t_eq Halted "$(xapi_state ".VM[\"$vm\"].power_state")" "it is halted"
sr=$(xapi_state '.SR | to_entries[] | select(.value.name_label == "backup-sr") | .key')
t_eq "2 $sr" "$(xapi_state "[.VM[\"$vm\"].VBDs[] as \$b | .VBD[\$b].VDI as \$d | .VDI[\$d].SR] | (length | tostring) + \" \" + .[0]")" \
	"its two disks are in backup-sr"
t_eq "$size $(sha256sum "$JOBDIR/$xva" | cut -d' ' -f1) success" \
	"$(xapi_state '.imports[-1] | "\(.bytes) \(.sha256) \(.status)"')" \
	"the simulator received the file's bytes, exactly"
t_match "imported VM 'web01 \\(restored $stamp\\)' uuid [0-9a-f-]{36} ref OpaqueRef:" "$T_OUT" "stdout names the new VM"
c=$(calls)
t_eq "session.login_with_password Success
SR.get_by_name_label Success
task.create Success
PUT /import success" "$(echo "$c" | head -4)" "login, the SR, a task, then the PUT"
t_match '^task.get_record Success$' "$c" "the task is polled"
t_eq "task.destroy Success
session.logout Success" "$(echo "$c" | tail -2)" "the task destroyed, then logout"
t_eq "RESTORE|OK" "$(last_row web "TYPE || '|' || status")" "a RESTORE row, OK"
t_match "import of .*$xva into SR 'backup-sr' on 127.0.0.1:$XAPI_PORT OK: new VM 'web01 \\(restored $stamp\\)'" \
	"$(last_row web log)" "the row's log names the SR and the new VM"
t_eq "1|$size" "$(last_row web "written_files_count || '|' || written_bytes")" "the row counts the bytes uploaded"
t_eq 0 "$(xapi_state .session)" "no session left open"
t_eq 0 "$(xapi_state '.task | length')" "no task left"

# ---------------------------------------------------------------- by UUID, dry run
uuid=$(xapi_state '.SR[] | select(.name_label == "local-sr") | .uuid')
tb_run -c "$CONF" -s web restore --at "$stamp" --import-to "$uuid"
t_rc 0 "restore --import-to SR-UUID: exit 0"
t_eq 2 "$(restored_vms)" "a second restored VM"
t_eq local-sr "$(xapi_state '.imports[-1].sr as $s | .SR[$s].name_label')" "imported into the SR of that UUID"
n=$(nimports)
mark
tb_run -c "$CONF" -s web -d restore --import-to backup-sr
t_rc 0 "dry run: exit 0"
t_match "would import .* into SR 'backup-sr'" "$T_OUT" "dry run: says what it would do"
t_eq "$n" "$(nimports)" "dry run: nothing uploaded"
t_nomatch 'PUT /import|task.create' "$(calls)" "dry run: no task, no PUT"

# ---------------------------------------------------------------- refusals before any byte
n=$(nimports)
mark
tb_run -c "$CONF" -s web restore --import-to nosuch-sr
t_rc 1 "unknown SR: exit 1"
t_match "\\-\\-import-to nosuch-sr: no storage repository .*there are: 'local-sr', 'backup-sr'" "$T_ERR" \
	"unknown SR: the error names the option and lists the SRs"
t_eq "$n" "$(nimports)" "unknown SR: nothing uploaded"
t_nomatch 'PUT /import|task.create' "$(calls)" "unknown SR: no task, no PUT"
t_eq "RESTORE|ERROR" "$(last_row web "TYPE || '|' || status")" "unknown SR: the RESTORE row is ERROR"
t_eq "session.logout Success" "$(calls | tail -1)" "unknown SR: logged out"
mark
tb_run -c "$CONF" -s web restore --import-to twin-sr
t_rc 1 "ambiguous SR: exit 1"
t_match "\\-\\-import-to twin-sr: 2 storage repositories have that name label .*UUID" "$T_ERR" \
	"ambiguous SR: refused, asking for the UUID"
t_eq "$n" "$(nimports)" "ambiguous SR: nothing uploaded"
tb_run -c "$CONF" -s nothing restore --import-to backup-sr
t_rc 2 "a null job: usage error"
t_match "\\-\\-import-to SR .* for xen-xva jobs only, and nothing is a null job" "$T_ERR" \
	"a job of another type: --import-to refused by name"
tb_run -c "$CONF" -s web restore --import-to backup-sr --to "$TMPD/out"
t_rc 2 "--import-to with --to: usage error"

# ---------------------------------------------------------------- a corrupt XVA
cp "$JOBDIR/$xva" "$TMPD/good.xva"
printf '\xff\xff\xff\xff' | dd of="$JOBDIR/$xva" bs=1 seek=$((size / 2)) conv=notrunc status=none
vms=$(restored_vms)
n=$(nimports)
mark
tb_run -c "$CONF" -s web restore --import-to backup-sr
t_rc 1 "corrupt XVA: exit 1"
# the simulator notes the cut body when it sees it end, maybe after our logout
wait_until 60 imports_past "$n"
t_match "is not a sound XVA: upload stopped after [0-9]+ of $size bytes" "$T_ERR" "corrupt XVA: the error says so"
t_eq "$vms" "$(restored_vms)" "corrupt XVA: no new VM"
t_nomatch '^success' "$(xapi_state '.imports[-1].status')" "corrupt XVA: xapi never had the whole file"
got=$(xapi_state '.imports[-1].bytes')
t_ok "corrupt XVA: fewer bytes than the file reached xapi" test "$got" -lt "$size"
c=$(calls)
t_match '^task.cancel Success$' "$c" "corrupt XVA: the task is cancelled"
t_eq "task.destroy Success
session.logout Success" "$(echo "$c" | grep -v '^PUT /import' | tail -2)" "corrupt XVA: the task destroyed, logout"
t_eq "RESTORE|ERROR" "$(last_row web "TYPE || '|' || status")" "corrupt XVA: the RESTORE row is ERROR"
cp "$TMPD/good.xva" "$JOBDIR/$xva"

# ---------------------------------------------------------------- the import task fails
xapi_faults '{"import_fail": ["SR_BACKEND_FAILURE_44", "", "There is insufficient space"]}'
mark
tb_run -c "$CONF" -s web restore --import-to backup-sr
t_rc 1 "failed import task: exit 1"
t_match "XAPI import into SR 'backup-sr': the task failed: SR_BACKEND_FAILURE_44 .*insufficient space" "$T_ERR" \
	"failed import task: XAPI's own words"
t_match "SR_BACKEND_FAILURE_44" "$(last_row web log)" "failed import task: in the RESTORE row"
t_eq "RESTORE|ERROR" "$(last_row web "TYPE || '|' || status")" "failed import task: the row is ERROR"
t_eq "task.destroy Success
session.logout Success" "$(calls | tail -2)" "failed import task: the task destroyed, logout"

# ---------------------------------------------------------------- through the queue
# The web form's request ("Import into SR…", xva_import.js): POST runs with
# import_to, run by serve's embedded worker.
xapi_faults '{}'
web_config
PW_A="alice-$TB_ID-pw"
web_user alice admin "$PW_A" || t_bail "tisbackup user add failed"
printf 'machine 127.0.0.1 login alice password %s\n' "$PW_A" >"$TMPD/netrc.alice"
web_start
n=$(restored_vms)
out=$(hcurl --netrc-file "$TMPD/netrc.alice" -X POST -H 'Content-Type: application/json' \
	--data-binary "{\"action\": \"restore\", \"sections\": [\"web\"], \"options\": {\"at\": \"$stamp\", \"import_to\": \"local-sr\"}}" \
	"$WEB/api/v1/runs")
t_eq 202 "$(st_of "$out")" "queued import (POST runs, import_to): 202"
qrun=$(body_of "$out" | jq_py 'd["id"]')
qstate() { curl -s --netrc-file "$TMPD/netrc.alice" "$WEB/api/v1/runs/$qrun" | jq_py 'd["state"]'; }
qended() { case $(qstate) in 'done' | failed | cancelled) return 0 ;; esac; return 1; }
wait_until 120 qended
t_eq 'done' "$(qstate)" "queued import: run $qrun done"
[ "$(qstate)" = 'done' ] || t_diag "$(last_row web log)" "$(curl -s --netrc-file "$TMPD/netrc.alice" "$WEB/api/v1/runs/$qrun")"
t_eq $((n + 1)) "$(restored_vms)" "queued import: a new restored VM on the pool"
t_eq local-sr "$(xapi_state '.imports[-1].sr as $s | .SR[$s].name_label')" "queued import: into local-sr"
t_match "by alice \\(queue run $qrun\\)" "$(last_row web log)" "queued import: the RESTORE row names alice and the run"
web_stop

# ---------------------------------------------------------------- secrets
printf '%s\n' "$PW" >"$TMPD/secrets"
t_proc_scan_control "$TMPD/secrets"
xapi_faults '{"import_delay": 3}'
: >"$TMPD/leaks"
"$TISBACKUP" -c "$CONF" -s web restore --import-to backup-sr >"$TMPD/bg.out" 2>"$TMPD/bg.err" </dev/null &
bg=$!
tb_track "$bg"
while kill -0 "$bg" 2>/dev/null; do
	proc_scan "$TMPD/secrets" >>"$TMPD/leaks"
	sleep 0.05
done
wait "$bg"
t_eq 0 "$?" "a restore sampled from /proc: OK"
t_eq "" "$(cat "$TMPD/leaks")" "no argv or environment held the password during the restore"
xapi_state '.imports[].session' | sort -u >>"$TMPD/secrets"
t_num_ge 2 "$(wc -l <"$TMPD/secrets")" "the sessions of the uploads are known"
t_eq "" "$(cat "$TMPD"/.out "$TMPD"/.err "$TMPD"/bg.out "$TMPD"/bg.err "$BASE"/log/*.log 2>/dev/null |
	grep -F -f "$TMPD/secrets")" "no password or session id in any output or log"
t_eq "" "$(csql 'select log || backup_location from stats' | grep -F -f "$TMPD/secrets")" \
	"nor in a catalog row"
xapi_faults '{}'
t_done
