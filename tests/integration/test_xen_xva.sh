#!/usr/bin/env bash
#
# xen-xva against the XAPI simulator (tests/sim/xapi_sim.py): the export
# lands as {job}/{section}-{STAMP}.xva, verified while it streams, for
# gzip, zstd and none, over https (CA file, pinned key) and http; every
# fault of the simulator (HTTP 401, a stream cut at and inside a member,
# a corrupt chunk, a stall with and without task progress, SIGTERM,
# VDI_IN_USE once, HOST_IS_SLAVE, a redirect, a wrong password) ends with
# the call log showing, for that run: the export task cancelled on a
# failure, our snapshot destroyed, the session logged out, and on disk
# no .xva nor .partial for a failed run. halt_vm starts the VM again in
# every outcome; only our own leftover snapshots are swept; the password
# is in no argv (sampled from /proc during a run), log or catalog row.
# register_existing and checknagios see the .xva files.

# shellcheck disable=SC2012
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=xapi.sh
. "$(dirname "${BASH_SOURCE[0]}")/xapi.sh"

tb_require_binary
tb_require openssl curl jq sqlite3 gzip zstd tar xva-img
tb_tmp

PW="xva-Pw-$TB_ID-$RANDOM"
MIB=1048576
cat >"$TMPD/sim.json" <<EOF
{"user": "root", "password": "$PW",
 "vms": [{"name": "web01", "disks": [{"size": $((3 * MIB + 4096)), "zeros": [1, 2]}, {"size": $MIB}]},
         {"name": "tisbackup-web01", "disks": [{"size": 4096}]},
         {"name": "web01", "is_a_template": true, "disks": []},
         {"name": "web01-prod", "disks": [{"size": 4096}]}]}
EOF
xapi_sim_start "$TMPD/sim.json"
printf 'root\n%s\n' "$PW" >"$TMPD/pw"
chmod 600 "$TMPD/pw"
PIN=$(openssl x509 -in "$XAPI_CERT" -pubkey -noout | openssl pkey -pubin -outform der |
	sha256sum | cut -d' ' -f1)
JOBDIR=$BASE/web

# conf [key=value...]: the config with one xen-xva job "web" (extra keys replace defaults).
conf() {
	local -A kv=([type]=xen-xva [server_name]=web01 [xcphost]="127.0.0.1:$XAPI_PORT"
		[password_file]="$TMPD/pw" [xcp_ca_file]="$XAPI_CERT" [stall_timeout]=60)
	local a args=()
	for a in "$@"; do kv[${a%%=*}]=${a#*=}; done
	for a in "${!kv[@]}"; do [ -n "${kv[$a]}" ] && args+=("$a=${kv[$a]}"); done
	cfg_global "$CONF"
	job_section "$CONF" web "${args[@]}"
}

# run_backup FAULTS [key=value...]: one backup of "web" with the simulator's faults.
RUN_FROM=1
run_backup() {
	local faults=$1
	shift
	xapi_faults "$faults"
	conf "$@"
	RUN_FROM=$(($(xapi_log_lines) + 1))
	tb_run -c "$CONF" -s web backup
}

# runlog: this run's lines of the call log (the simulator's own "export
# end" notes left out: one may land after the next run started).
runlog() {
	tail -n +"$RUN_FROM" "$XAPI_LOG" | jq -c 'select(.method != "export end")'
}

# calls: this run's calls, one line each "METHOD STATUS".
calls() {
	runlog | jq -r '.method + " " + .status'
}

# our_snapshots: snapshots of web01 marked by our job, left on the pool.
our_snapshots() {
	xapi_state '[.VM[] | select(.is_a_snapshot and .other_config["tisbackup:job"] == "web")] | length'
}

# after_failure DESC WORDS: the run failed with WORDS and undid everything.
after_failure() {
	local desc=$1 words=$2 c
	c=$(calls)
	t_eq ERROR "$(last_row web status)" "$desc: the row is ERROR"
	t_match "$words" "$(last_row web log)" "$desc: the log says why"
	t_eq "" "$(ls "$JOBDIR" 2>/dev/null | grep -E '\.xva|\.partial' | grep -v -F -f "$TMPD/good" )" \
		"$desc: no .xva nor .partial of this run"
	t_eq 0 "$(our_snapshots)" "$desc: no snapshot of ours left on the pool"
	t_eq "session.logout Success" "$(echo "$c" | tail -1)" "$desc: the session is logged out last"
	t_eq 0 "$(xapi_state .session)" "$desc: no session left open"
}

# ================================================================ OK paths
: >"$TMPD/good"
run_backup '{}'
t_rc 0 "https + CA file, gzip: the backup succeeds"
xva=$(ls "$JOBDIR" | grep -E '^web-[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2}\.xva$')
echo "$xva" >>"$TMPD/good"
t_ne "" "$xva" "the file is {section}-{STAMP}.xva"
t_ok "it is a whole gzip stream" gzip -t "$JOBDIR/$xva"
t_eq ova.xml "$(gzip -dc "$JOBDIR/$xva" | tar tf - | head -1)" "a tar with ova.xml first"
t_eq "OK|1|$(stat -c %s "$JOBDIR/$xva")|$JOBDIR/$xva" \
	"$(last_row web "status,total_files_count,total_bytes,backup_location")" \
	"the row: OK, one file, its size, its path"
t_match '^XVA backup from web01 OK, [0-9]+ bytes written' "$(last_row web log)" "the original's log words"
tb_run -c "$CONF" -s web restore --to "$TMPD/restored"
t_rc 0 "restore --to DIR of the newest XVA: exit 0"
t_ok "restore: the file equals the backup" cmp "$JOBDIR/$xva" "$TMPD/restored/$xva"
c=$(calls)
t_eq "session.login_with_password Success
VM.get_by_name_label Success
VM.get_record Success
VM.get_record Success
Async.VM.snapshot Success" "$(echo "$c" | head -5)" "login, the VM resolved among look-alikes, then the snapshot"
t_match '^GET /export 200$' "$c" "the export streamed"
t_nomatch 'task.cancel' "$c" "no task cancelled on success"
t_eq "VM.destroy Success
task.destroy Success
session.logout Success" "$(echo "$c" | tail -3)" "then the snapshot destroyed, the task destroyed, logout"
t_eq 0 "$(our_snapshots)" "no snapshot of ours left"
t_eq 1 "$(xapi_state '[.VM[] | select(.name_label == "tisbackup-web01" and (.is_a_snapshot | not))] | length')" \
	"the real VM called tisbackup-web01 is untouched"
t_match "ref=OpaqueRef" "$(runlog | jq -r 'select(.method == "GET /export") | .args | "ref=" + .ref')" \
	"the export names the snapshot by the ref VM.snapshot returned"
t_eq "true ***" "$(runlog | jq -r 'select(.method == "GET /export") | .args | .use_compression + " " + .session_id')" \
	"use_compression=true, the session in the query (no Basic auth)"

# zstd over plain-http export, RPC over https with a pinned key (no CA file)
run_backup '{"keepalive_every": 1}' use_compression=zstd enable_https=no xcp_ca_file= "xcp_fingerprint=$PIN"
t_rc 0 "zstd, http export, pinned key, keep-alive members: OK"
xva=$(ls -t "$JOBDIR" | grep -E '\.xva$' | head -1)
echo "$xva" >>"$TMPD/good"
t_ok "the file is a whole zstd stream" zstd -qt "$JOBDIR/$xva"
t_match 'zstd, xxhash' "$(last_row web log)" "the log names zstd"

# the original's "yes" means gzip here (it sent it raw: no compression); SHA-1 checksums
run_backup '{"checksum": "checksum", "no_zstd": true}' use_compression=yes
t_rc 0 "use_compression=yes with .checksum (SHA-1) members: OK"
t_eq "true" "$(runlog | jq -r 'select(.method == "GET /export") | .args.use_compression')" \
	"use_compression=yes is sent as true (gzip)"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"
run_backup '{"no_zstd": true}' use_compression=zstd
t_rc 0 "zstd on a pool that restricts it: OK"
t_eq "true" "$(runlog | jq -r 'select(.method == "GET /export") | .args.use_compression')" \
	"falls back to gzip"
t_match 'does not allow zstd' "$T_ERR" "with a warning"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

# a 100 MiB disk, plain: written in 16 MiB steps handed to the disk as they come, waited for
# 64 MiB behind (and gathered
# from libcurl's pieces); Debian's xva-img (SHA-1 members only) rebuilds the simulator's disk
# from our file byte for byte
xapi_add_vm "{\"name\": \"bulk\", \"disks\": [{\"size\": $((100 * MIB + 4096)), \"zeros\": [7]}]}" >/dev/null
run_backup '{"checksum": "checksum"}' server_name=bulk use_compression=false enable_https=no
t_rc 0 "a 100 MiB plain export: OK"
xva=$(ls -t "$JOBDIR" | grep -E '\.xva$' | head -1)
echo "$xva" >>"$TMPD/good"
mkdir "$TMPD/bulk" && tar xf "$JOBDIR/$xva" -C "$TMPD/bulk" || t_bail "tar xf failed"
xva-img disk-export "$TMPD"/bulk/Ref:* "$TMPD/bulk.raw" >/dev/null 2>&1
vbd=$(xapi_state '.VM[] | select(.name_label == "bulk" and (.is_a_snapshot | not)) | .VBDs[0]')
vdi=$(xapi_state ".VBD[\"$vbd\"].VDI")
curl -sf "http://127.0.0.1:$XAPI_PORT/sim/vdi?ref=$vdi" -o "$TMPD/bulk.sim"
t_ok "100 MiB: xva-img's disk from our file is the simulator's disk" cmp "$TMPD/bulk.raw" "$TMPD/bulk.sim"
rm -rf "$TMPD/bulk" "$TMPD/bulk.raw" "$TMPD/bulk.sim"

# ================================================================ faults
run_backup '{"export_status": 401}'
t_rc 1 "HTTP 401 on /export: the run fails"
after_failure "401" 'HTTP 401'
t_match '^task.cancel Success$' "$(calls)" "401: the export task is cancelled"

run_backup '{"truncate_at_member": 5}' use_compression=false
after_failure "cut at a member boundary (plain tar)" 'VDI_IO_ERROR|truncated'
c=$(calls)
t_eq "task.cancel Success" "$(echo "$c" | grep -A0 -E '^task.cancel' | head -1)" "cut: the task is cancelled"
t_match "^task.cancel Success
VM.get_VBDs Success" "$(echo "$c" | grep -A1 '^task.cancel')" "cut: the task is cancelled before the snapshot is destroyed"

run_backup '{"truncate_inside_member": 4}' use_compression=false
after_failure "cut inside a member" 'VDI_IO_ERROR|truncated'

run_backup '{"corrupt_chunk": 0}'
after_failure "corrupt chunk" 'does not match its \.xxhash'

run_backup '{"stall_at_member": 3, "stall_sec": 30}' stall_timeout=3 use_compression=false
after_failure "stall without task progress" 'stalled'

run_backup '{"stall_at_member": 3, "stall_sec": 7, "stall_progress": true}' stall_timeout=3 use_compression=false
t_rc 0 "a 7 s stall with task progress moving, stall_timeout 3: not killed"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

run_backup '{"vdi_in_use": 1}'
t_rc 0 "VDI_IN_USE once on the snapshot's VDI: retried, OK"
t_match '^VDI.destroy Failure
VDI.destroy Success$' "$(calls | grep '^VDI.destroy')" "VDI.destroy failed once, then succeeded"
t_eq 0 "$(our_snapshots)" "VDI_IN_USE: the snapshot is destroyed"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

run_backup '{}' "xcphost=127.0.0.1:$XAPI_SLAVE_PORT"
t_rc 0 "HOST_IS_SLAVE: OK through the master"
t_eq "$XAPI_SLAVE_PORT session.login_with_password Failure
$XAPI_PORT session.login_with_password Success" \
	"$(runlog | jq -r '"\(.port) \(.method) \(.status)"' | head -2)" \
	"HOST_IS_SLAVE: the login moves to the master"
t_eq "$XAPI_PORT" "$(runlog | jq -r 'select(.method == "GET /export") | .port')" \
	"HOST_IS_SLAVE: the export goes to the master too"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

run_backup "{\"redirect_to\": $XAPI_SLAVE_PORT}"
t_rc 0 "a 302 to another host: followed with the session in the query"
t_eq "$XAPI_PORT 302
$XAPI_SLAVE_PORT 200" "$(runlog | jq -r 'select(.method == "GET /export") | "\(.port) \(.status)"')" \
	"redirect: 302 then 200 on the other port"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

printf 'root\nwrong\n' >"$TMPD/pw.bad"
chmod 600 "$TMPD/pw.bad"
run_backup '{}' "password_file=$TMPD/pw.bad"
t_rc 1 "a wrong password: the run fails"
t_eq "XAPI login as root refused (SESSION_AUTHENTICATION_FAILED)" "$(last_row web log)" \
	"wrong password: a clear message"
t_eq "session.login_with_password Failure" "$(calls)" "wrong password: nothing else is called"

printf 'root\n%s\nextra\n' "$PW" >"$TMPD/pw.3"
chmod 600 "$TMPD/pw.3"
run_backup '{}' "password_file=$TMPD/pw.3"
t_match 'expected 2 lines \(user, password\)' "$(last_row web log)" "a password file of 3 lines is refused"
t_nomatch "$PW" "$(last_row web log)" "... without showing it"

# ================================================================ SIGTERM mid-stream, /proc sampled
xapi_faults '{"stall_at_member": 3, "stall_sec": 120}'
conf use_compression=false
RUN_FROM=$(($(xapi_log_lines) + 1))
"$TISBACKUP" -c "$CONF" -s web backup >"$TMPD/term.out" 2>&1 </dev/null &
bg=$!
tb_track "$bg"
# the export is streaming (then stalled for 120 s) once the simulator logged it
until tail -n +"$RUN_FROM" "$XAPI_LOG" | grep -q '"GET /export"' || ! kill -0 "$bg" 2>/dev/null; do
	sleep 0.1
done
printf '%s\n' "$PW" >"$TMPD/pw.pattern" # a pattern file: grep's own argv stays clean
t_eq "" "$(grep -alF -f "$TMPD/pw.pattern" /proc/[0-9]*/cmdline 2>/dev/null)" \
	"no process's argv holds the password (sampled mid-export)"
kill -TERM "$bg"
wait "$bg"
T_RC=$?
t_ne 0 "$T_RC" "SIGTERM: the run ends with an error"
after_failure "SIGTERM" 'interrupted'
t_match '^task.cancel Success$' "$(calls)" "SIGTERM: the export task is cancelled"

# ================================================================ halt_vm
run_backup '{}' halt_vm=yes
t_rc 0 "halt_vm: OK"
c=$(calls)
t_match '^Async.VM.clean_shutdown Success$' "$c" "halt_vm: the VM is shut down cleanly"
t_match '^Async.VM.start Success$' "$c" "halt_vm: and started again"
t_nomatch 'VM.snapshot' "$c" "halt_vm: no snapshot"
t_eq Running "$(xapi_state '.VM[] | select(.name_label == "web01" and (.is_a_template | not) and (.is_a_snapshot | not)) | .power_state')" \
	"halt_vm: the VM runs again"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

run_backup '{"corrupt_chunk": 0}' halt_vm=yes
t_rc 1 "halt_vm with a corrupt export: fails"
t_match '^Async.VM.start Success$' "$(calls)" "halt_vm + failure: the VM is started again"
t_eq Running "$(xapi_state '.VM[] | select(.name_label == "web01" and (.is_a_template | not) and (.is_a_snapshot | not)) | .power_state')" \
	"halt_vm + failure: the VM runs again"
t_eq "session.logout Success" "$(calls | tail -1)" "halt_vm + failure: logged out"

run_backup '{"corrupt_chunk": 0, "start_fail": true}' halt_vm=yes
t_match 'left halted' "$(last_row web log)" "halt_vm: a failed restart says the VM is left halted"
xapi_faults '{}'

# ================================================================ leftovers
vm=$(xapi_state '.VM | to_entries[] | select(.value.name_label == "web01" and (.value.is_a_template | not) and (.value.is_a_snapshot | not)) | .key')
xapi_add_vm '{"name": "tisbackup-web01", "snapshot_of": "web01", "power_state": "Halted", "disks": [{"size": 4096}]}' >/dev/null
xapi_add_vm '{"name": "nightly", "snapshot_of": "web01", "power_state": "Halted", "other_config": {"tisbackup:job": "web"}, "disks": [{"size": 4096}]}' >/dev/null
xapi_add_vm '{"name": "tisbackup-web01", "snapshot_of": "web01", "power_state": "Halted", "other_config": {"tisbackup:job": "other"}, "disks": [{"size": 4096}]}' >/dev/null
xapi_add_vm '{"name": "before-upgrade", "snapshot_of": "web01", "power_state": "Halted", "disks": [{"size": 4096}]}' >/dev/null
xapi_add_vm '{"name": "tisbackup-web01", "snapshot_of": "web01-prod", "power_state": "Halted", "disks": [{"size": 4096}]}' >/dev/null
run_backup '{}'
t_rc 0 "with leftovers: OK"
t_eq "before-upgrade
tisbackup-web01:other
tisbackup-web01:web01-prod" \
	"$(xapi_state '.VM as $v | [.VM[] | select(.is_a_snapshot) | .name_label + (if .other_config["tisbackup:job"] == "other" then ":other" elif $v[.snapshot_of].name_label == "web01-prod" then ":web01-prod" else "" end)] | sort | .[]')" \
	"only our leftovers (the legacy name, our marker) are swept; another job's, a manual one, another VM's stay"
ls -t "$JOBDIR" | grep -E '\.xva$' | head -1 >>"$TMPD/good"

# ================================================================ secrets, register, nagios
t_nomatch "$PW" "$(cat "$TMPD/.out" "$TMPD/.err" "$TMPD/term.out"; csql 'select log from stats'; cat "$BASE"/log/*.log 2>/dev/null)" \
	"the password is in no output, log or catalog row"
t_nomatch "$PW" "$(cat "$XAPI_LOG")" "nor in the simulator's call log"

tb_run -c "$CONF" -s web checknagios
t_rc 0 "checknagios: OK on the newest .xva"

cp "$JOBDIR/$(head -1 "$TMPD/good")" "$JOBDIR/web-20200101-01h02m03.xva"
: >"$JOBDIR/web-20200101-01h02m04.xva.tmp"
: >"$JOBDIR/other.xva"
tb_run -c "$CONF" -s web register_existing
t_rc 0 "register_existing runs"
t_eq "1" "$(csql "select count(*) from stats where backup_location='$JOBDIR/web-20200101-01h02m03.xva'")" \
	"register_existing records a NAME-STAMP.xva"
t_eq "2020-01-01 01:02:03" "$(csql "select substr(replace(backup_start,'T',' '),1,19) from stats where backup_location='$JOBDIR/web-20200101-01h02m03.xva'")" \
	"with the stamp as its start (no +30 min)"
t_eq "0" "$(csql "select count(*) from stats where backup_location like '%other.xva' or backup_location like '%.tmp'")" \
	"foreign names and staging files are not recorded"
run_backup '{}'
t_eq "" "$(ls "$JOBDIR" | grep '\.xva\.tmp$')" "a run removes the original's NAME-STAMP.xva.tmp leftovers of its job"
t_done
