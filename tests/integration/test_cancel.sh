#!/usr/bin/env bash
#
# Cancelling a run while its preexec hook runs, against the lib.sh sshd:
#  - through the queue (a `tisbackup worker`, tb_queuectl cancel, as the
#    API's DELETE does): the preexec is a script that sleeps and has a
#    child that ignores SIGTERM. Once its output is in the run's log, the
#    run is cancelled; then, within a bounded wait: the queue says
#    cancelled during preexec, the catalog row is no longer Running (ERROR,
#    saying it was interrupted), the job's lock is free (a new run of the
#    job is not "already running"), nothing the worker started for the
#    run is left (its only descendant is its guardian), and nothing of the
#    hook is left on the server either (ssh gives it a terminal, which
#    sshd hangs up when the session goes: SIGHUP to its group);
#  - a child that does not end on SIGTERM (postexec_on_failure runs a
#    hanging postexec) is killed after the worker's grace, and the worker
#    ends its Running row itself, saying who cancelled and that it killed
#    the run (so does the run's error);
#  - without the queue: `tisbackup backup` receiving SIGTERM during the
#    same preexec exits, with the same row and lock, and leaves no child,
#    here nor on the server (without ssh's shared connection this time).
# Waits end on states; each gives up after STALL seconds (a wait that
# ends is what counts, never how long it took).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen flock
QCTL=$(dirname "$TISBACKUP")/tests/tb_queuectl
[ -x "$QCTL" ] || t_bail "$QCTL missing (build first)"
tb_tmp
sshd_start
STALL=90

# The hook: prints, starts a child that ignores SIGTERM, sleeps. Its
# sleeps run as $TMPD/sleeper (a link to sleep), so the server's processes
# of this test are found by their command line.
ln -s "$(command -v sleep)" "$TMPD/sleeper"
cat >"$TMPD/pre.sh" <<SCRIPT
#!/bin/bash
echo "pre: started"
( trap '' TERM; exec $TMPD/sleeper 600 ) &
$TMPD/sleeper 601
SCRIPT
printf '#!/bin/bash\necho "post: started"\n%s 602\n' "$TMPD/sleeper" >"$TMPD/post.sh"
chmod +x "$TMPD/pre.sh" "$TMPD/post.sh"
mkdir -p "$TMPD/src"
echo data >"$TMPD/src/file"
cfg_global "$CONF"
cfg_job "$CONF" slow "$TMPD/src" "preexec = $TMPD/pre.sh"
mkdir -p "$BASE/log"

GUI=$TMPD/gui.ini
printf '[general]\nconfig_tisbackup = %s\n[queue]\nbackend = sqlite\nlease_seconds = 6\nworkers = 1\nstop_grace = 1\n' \
	"$CONF" >"$GUI"
q() { "$QCTL" "$GUI" "$BASE/log" "$@"; }
ME=$(id -un) # tb_queuectl cancels as cli:USER
row_status() { last_row slow status; }
not_running() { [ -n "$(row_status)" ] && [ "$(row_status)" != Running ]; }
lock_free() { [ ! -e "$BASE/slow/lock" ] || flock -n "$BASE/slow/lock" true; }
# others PID: descendants of PID other than its guardian (a process with
# PID's own command line), with their command lines.
others() {
	local p own
	own=$(tr '\0' ' ' <"/proc/$1/cmdline")
	for p in $(tb_descendants "$1"); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "$own" ] && continue
		[ -e "/proc/$p" ] && ps -o pid=,args= -p "$p"
	done
}
no_others() { [ -z "$(others "$1")" ]; }
# remote_hooks: the hook's processes on the "server" (the sshd's sessions):
# the scripts and their sleeps, not the ssh clients that name them.
remote_hooks() { pgrep -f "^(/bin/bash $TMPD/(pre|post)\.sh|$TMPD/sleeper 60[0-9])"; }
no_remote_hooks() { [ -z "$(remote_hooks)" ]; }

# ================================================================ through the queue
"$TISBACKUP" --gui-config "$GUI" worker >"$TMPD/worker.log" 2>&1 </dev/null &
WPID=$!
tb_track "$WPID"
id=$(q enqueue "$CONF" backup slow | cut -d' ' -f1)
t_match '^[0-9]+$' "$id" "queue: the run is queued"
wait_until "$STALL" eval 'q get "$id" | grep -q "preexec: pre: started"'
t_match "pre: started" "$(q get "$id")" "queue: the run is in its preexec"
t_eq Running "$(row_status)" "queue: its catalog row is Running"
t_eq running "$(q cancel "$id")" "queue: cancel of the running run is accepted"
wait_until "$STALL" eval '[ "$(q get "$id" | head -n1 | cut -d" " -f2)" = cancelled ]'
t_match "^$id cancelled 1 " "$(q get "$id" | head -n1)" "queue: the run ends cancelled"
t_match "cancelled by cli:$ME during preexec" "$(q get "$id" | head -n1)" \
	"queue: the run's error names who cancelled (cli:USER) and the phase"
t_match "cancelled by cli:$ME: ending the run" "$(q get "$id")" "queue: the run's log says who cancelled"
wait_until "$STALL" not_running
t_eq ERROR "$(row_status)" "queue: the catalog row is finished (ERROR), not left Running"
t_match "preexec.*interrupted" "$(last_row slow log)" "queue: the row says preexec was interrupted"
t_match "^cancelled by cli:$ME: interrupted by a signal" "$(last_row slow log)" \
	"queue: the row says who cancelled"
t_match "cancelled by cli:$ME: interrupted by a signal" "$(cat "$BASE"/log/tisbackup_*.log 2>/dev/null)" \
	"queue: the job's run log line says who cancelled"
t_ok "queue: the job's lock is free" lock_free
t_diag "at ${SECONDS}s: the queued run is over"
wait_until "$STALL" no_others "$WPID"
t_ok "queue: no process of the run is left under the worker" no_others "$WPID"
no_others "$WPID" || t_diag "left: $(others "$WPID")"
t_match "cancel requested by cli:$ME, ending it" "$(cat "$TMPD/worker.log")" \
	"queue: the worker logged the cancel and who asked"
t_eq "" "$(compgen -G "${TMPDIR:-/tmp}/tisbackup-cancel-$WPID-*")" "queue: the worker removed its cancel note"
t_diag "at ${SECONDS}s: the worker is alone"
wait_until "$STALL" no_remote_hooks
t_ok "queue: nothing of the hook is left on the server (its terminal was hung up)" no_remote_hooks
no_remote_hooks || t_diag "on the server, still running: $(remote_hooks | tr '\n' ' ')"

# A child that does not end on SIGTERM (postexec_on_failure runs postexec
# after the interrupted preexec, and it hangs): the worker kills it after
# its grace and ends the Running row itself.
cfg_job "$CONF" stuck "$TMPD/src" "preexec = $TMPD/pre.sh" "postexec = $TMPD/post.sh" \
	"postexec_on_failure = yes"
id=$(q enqueue "$CONF" backup stuck | cut -d' ' -f1)
wait_until "$STALL" eval 'q get "$id" | grep -q "preexec: pre: started"'
t_eq running "$(q cancel "$id")" "stuck: cancel of the running run is accepted"
wait_until "$STALL" eval 'q get "$id" | grep -q "running postexec"'
t_match "running postexec" "$(q get "$id")" "stuck: postexec_on_failure runs postexec after the cancel"
wait_until 120 eval '[ "$(q get "$id" | head -n1 | cut -d" " -f2)" = cancelled ]'
t_match "^$id cancelled 1 .*cancelled by cli:$ME during postexec" "$(q get "$id" | head -n1)" \
	"stuck: the run ends cancelled during postexec"
t_match "the child did not exit" "$(cat "$TMPD/worker.log")" "stuck: the worker had to kill the child"
t_eq ERROR "$(last_row stuck status)" "stuck: the worker ended the Running row (ERROR)"
t_match "^interrupted: cancelled by cli:$ME during postexec \(queue run $id\), and it did not end within 30 s of its SIGTERM: killed by queue worker [^ ]+; the run ended without recording a result$" \
	"$(last_row stuck log)" "stuck: the row the worker ended says who cancelled, and that the worker killed the run"
t_match "cancelled by cli:$ME during postexec \(killed: it did not end within 30 s of its SIGTERM\)" \
	"$(q get "$id" | head -n1)" "stuck: the run's error says it was killed after the grace"
wait_until "$STALL" no_others "$WPID"
t_ok "stuck: no process of the run is left under the worker" no_others "$WPID"
kill -TERM "$WPID"
wait "$WPID" 2>/dev/null
wait_until "$STALL" no_remote_hooks
t_ok "stuck: nothing of preexec or postexec is left on the server" no_remote_hooks
no_remote_hooks || t_diag "on the server, still running: $(remote_hooks | tr '\n' ' ')"
for p in $(remote_hooks); do pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done

# ================================================================ without the queue
# ssh_connection_sharing = no (hooks never share; the transfer does not either here).
sed -i 's/^preexec = .*pre\.sh$/&\nssh_connection_sharing = no/' "$CONF"
wait_next_second
"$TISBACKUP" -c "$CONF" -s slow backup >"$TMPD/direct.out" 2>&1 </dev/null &
P=$!
tb_track "$P"
wait_until "$STALL" eval '[ -n "$(remote_hooks)" ] && [ "$(row_status)" = Running ]'
t_eq Running "$(row_status)" "backup: its catalog row is Running during preexec"
kill -TERM "$P"
rc=0
wait_until "$STALL" eval '! kill -0 "$P" 2>/dev/null || [ "$(awk "{print \$3}" /proc/$P/stat 2>/dev/null)" = Z ]'
wait "$P" || rc=$?
t_eq 1 "$rc" "backup: SIGTERM during preexec: exit 1"
t_diag "at ${SECONDS}s: the backup exited"
t_eq ERROR "$(row_status)" "backup: the catalog row is finished (ERROR)"
t_match "interrupted" "$(last_row slow log)" "backup: the row says it was interrupted"
t_ok "backup: the job's lock is free" lock_free
wait_until "$STALL" no_remote_hooks
t_ok "backup: nothing of the hook is left on the server" no_remote_hooks
no_remote_hooks || t_diag "on the server, still running: $(remote_hooks | tr '\n' ' ')"
for p in $(remote_hooks); do pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
t_eq 0 "$(csql "select count(*) from stats where status = 'Running'")" "no Running row is left"

t_done
