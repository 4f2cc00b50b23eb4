#!/usr/bin/env bash
#
# preexec and postexec (SPEC §5) against a real sshd on loopback: they run
# on the server through its shell, in order around the transfer; a failing
# preexec stops the job before anything is written and skips postexec; a
# failing postexec fails the job; postexec_on_failure = yes runs postexec
# after a failed preexec or transfer; their output reaches the run log and
# the error message; exec_timeout ends a hung hook; without private_key
# they are a configuration error.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SRC=$TMPD/src
mkdir -p "$SRC/sub"
printf 'data\n' >"$SRC/file.txt"
printf 'more\n' >"$SRC/sub/more.txt"
M=$TMPD/markers
mkdir -p "$M"

runlog() {
	cat "$BASE"/log/tisbackup_*.log 2>/dev/null
}

cfg_global "$CONF"

# ================================================================ order around the transfer
# preexec writes into remote_dir: the marker must be in the snapshot. The
# value is a shell command line for the remote shell, kept as written:
# $(...), $((...)), quotes, ';' and '>' are the shell's to interpret.
# shellcheck disable=SC2016 # expanded by the remote shell, not here
cfg_job "$CONF" order "$SRC" \
	'preexec = echo "$SSH_CONNECTION|$HOME|$((6*7))" > '"'$SRC/pre marker'"'; date +%s.%N > '"$M/pre_time"'; echo pre-says-hello; echo pre-on-stderr >&2' \
	"postexec = ls -1 '$BASE/order' > $M/post_saw; date +%s.%N > $M/post_time; echo post-says-bye"
# -v: hook output is logged at INFO (DEBUG otherwise, like the original).
tb_run -c "$CONF" -v -s order backup
t_rc 0 "job with preexec and postexec: exit 0"
t_eq OK "$(last_row order status)" "OK row"
t_ok "preexec created its marker on the server" test -f "$SRC/pre marker"
content=$(cat "$SRC/pre marker" 2>/dev/null)
t_match "^127\.0\.0\.1 [0-9]+ 127\.0\.0\.1 $SSHD_PORT\|" "$content" \
	"preexec ran in an sshd session (\$SSH_CONNECTION expanded by the remote shell)"
t_match "\|$HOME\|42$" "$content" "\$HOME and \$((6*7)) expanded by the remote shell"
S=$(snapshots "$BASE/order" | tail -n 1)
t_ok "the preexec marker is in the snapshot (preexec ran before rsync)" test -f "$BASE/order/$S/pre marker"
t_eq "$(cat "$SRC/pre marker")" "$(cat "$BASE/order/$S/pre marker" 2>/dev/null)" \
	"the snapshot has the marker's content"
t_ok "postexec ran" test -f "$M/post_saw"
t_match "^$S\$" "$(cat "$M/post_saw" 2>/dev/null)" "postexec ran after the snapshot got its final name"
t_nomatch '\.rsync$' "$(cat "$M/post_saw" 2>/dev/null)" "postexec saw no unfinished .rsync folder"
t_check "postexec ran after preexec" \
	"$(awk -v a="$(cat "$M/pre_time")" -v b="$(cat "$M/post_time")" 'BEGIN { exit !(b >= a) }'; echo $?)"
t_match "$LOG_RE\[order\] .*preexec.*pre-says-hello" "$(runlog)" "preexec's output is in the run log"
t_match "$LOG_RE\[order\] .*preexec.*pre-on-stderr" "$(runlog)" "preexec's stderr is in the run log"
t_match "$LOG_RE\[order\] .*postexec.*post-says-bye" "$(runlog)" "postexec's output is in the run log"
t_match "$LOG_RE\[order\] running preexec on 127\.0\.0\.1" "$(runlog)" "the run log says preexec runs"
t_ok "no injected command ran" no_markers

# ================================================================ failing preexec
cfg_job "$CONF" badpre "$SRC" \
	"preexec = echo first-line; echo second-line >&2; echo last-words; exit 3" \
	"postexec = touch $M/badpre_post"
tb_run -c "$CONF" -s badpre backup
t_rc 1 "failing preexec: exit 1"
log=$(last_row badpre log)
t_eq ERROR "$(last_row badpre status)" "failing preexec: ERROR row"
t_match 'preexec' "$log" "failing preexec: the row log names preexec"
t_match 'exit code 3' "$log" "failing preexec: the row log has the exit code"
t_match '^last-words$' "$log" "failing preexec: the row log has its last output line"
t_match '^second-line$' "$log" "failing preexec: ... and its stderr"
t_eq "" "$(ls "$BASE/badpre" 2>/dev/null)" "failing preexec: nothing written (no STAMP, no STAMP.rsync)"
t_eq "" "$(last_row badpre backup_location)" "failing preexec: no backup_location"
t_ok "failing preexec: postexec not run" test ! -e "$M/badpre_post"
t_match "$LOG_RE\[badpre\] backup failed: preexec failed on 127\.0\.0\.1 \(exit code 3\)" "$(runlog)" \
	"failing preexec: the run log has the failure"
t_match '^last-words$' "$(runlog)" "failing preexec: ... with its output"

# ================================================================ failing postexec
cfg_job "$CONF" badpost "$SRC" "postexec = echo post-complains; exit 4"
tb_run -c "$CONF" -s badpost backup
t_rc 1 "failing postexec: exit 1"
t_eq ERROR "$(last_row badpost status)" "failing postexec: ERROR row"
t_match 'postexec.*exit code 4' "$(last_row badpost log)" "failing postexec: the row log names postexec and the exit code"
t_match '^post-complains$' "$(last_row badpost log)" "failing postexec: with its output"

# ================================================================ postexec_on_failure
cfg_job "$CONF" pof_pre "$SRC" "preexec = exit 5" "postexec = touch $M/pof_pre_post" \
	"postexec_on_failure = yes"
cfg_job "$CONF" pof_rsync "$TMPD/no/such/dir" "postexec = touch $M/pof_rsync_post" \
	"postexec_on_failure = yes"
cfg_job "$CONF" nopof_rsync "$TMPD/no/such/dir" "postexec = touch $M/nopof_rsync_post"
cfg_job "$CONF" pof_both "$SRC" "preexec = exit 6" "postexec = echo post-also-fails; exit 7" \
	"postexec_on_failure = yes"
tb_run -c "$CONF" -s pof_pre,pof_rsync,nopof_rsync,pof_both backup
t_rc 1 "postexec_on_failure jobs: exit 1"
t_eq ERROR "$(last_row pof_pre status)" "postexec_on_failure, failed preexec: still ERROR"
t_match 'preexec.*exit code 5' "$(last_row pof_pre log)" "postexec_on_failure, failed preexec: the row says why"
t_ok "postexec_on_failure, failed preexec: postexec ran" test -e "$M/pof_pre_post"
t_eq ERROR "$(last_row pof_rsync status)" "postexec_on_failure, failed transfer: ERROR"
t_imatch 'rsync' "$(last_row pof_rsync log)" "postexec_on_failure, failed transfer: the row says rsync failed"
t_ok "postexec_on_failure, failed transfer: postexec ran" test -e "$M/pof_rsync_post"
t_eq ERROR "$(last_row nopof_rsync status)" "failed transfer without postexec_on_failure: ERROR"
t_ok "failed transfer without postexec_on_failure: postexec not run" test ! -e "$M/nopof_rsync_post"
log=$(last_row pof_both log)
t_match 'preexec.*exit code 6' "$log" "both hooks fail: the preexec failure is reported"
t_match 'postexec.*exit code 7' "$log" "both hooks fail: the postexec failure is added"
t_match "$LOG_RE\[pof_pre\] .*postexec_on_failure" "$(runlog)" "the run log says why postexec runs after a failure"

# ================================================================ exec_timeout
cfg_job "$CONF" hung "$SRC" "preexec = echo going-to-sleep; sleep 60" "exec_timeout = 2"
t0=$(date +%s)
tb_run -c "$CONF" -s hung backup
el=$(($(date +%s) - t0))
t_rc 1 "hung preexec: exit 1"
t_check "hung preexec: ended after exec_timeout, not 60 s (${el}s)" "$([ "$el" -le 20 ]; echo $?)"
t_match 'preexec.*timed out' "$(last_row hung log)" "hung preexec: the row says it timed out"
t_eq "" "$(ls "$BASE/hung" 2>/dev/null)" "hung preexec: nothing written"

# ================================================================ input
# Hooks run on a terminal (so they end with their session, see
# it_cancel), but their input is still empty: a read sees its end at once
# rather than waiting on the terminal until exec_timeout.
# shellcheck disable=SC2016 # expanded by the remote shell, not here
cfg_job "$CONF" reads "$SRC" 'preexec = read -r x; echo "read-rc=$?"; cat; echo "cat-rc=$?"; test -t 1 && echo "on-a-terminal"' \
	"exec_timeout = 60"
tb_run -c "$CONF" -s reads backup
t_rc 0 "a preexec reading its input: exit 0"
t_match "preexec: read-rc=1" "$(runlog)" "the hook's read sees the end of its input"
t_match "preexec: cat-rc=0" "$(runlog)" "... and so does a second reader"
t_match "preexec: on-a-terminal" "$(runlog)" "the hook's output is a terminal"
t_nomatch "Connection to .* closed" "$(runlog)" "ssh's goodbye is not in the hook's output"

# ================================================================ dry run
cfg_job "$CONF" dry "$SRC" "preexec = touch $M/dry_pre" "postexec = touch $M/dry_post"
tb_run -c "$CONF" -s dry -d backup
t_rc 0 "dry run with hooks: exit 0"
t_match "would run preexec on 127\.0\.0\.1: touch $M/dry_pre" "$T_ERR$T_OUT" "dry run shows preexec"
t_match "would run postexec on 127\.0\.0\.1: touch $M/dry_post" "$T_ERR$T_OUT" "dry run shows postexec"
t_ok "dry run: preexec not run" test ! -e "$M/dry_pre"
t_ok "dry run: postexec not run" test ! -e "$M/dry_post"

# ================================================================ no private_key
CBAD=$TMPD/nokey.ini
cfg_global "$CBAD"
printf '%s\n' "$(printf 'pw\n')" >"$TMPD/pw"
chmod 600 "$TMPD/pw"
{
	printf '[daemonjob]\ntype = rsync\nserver_name = 127.0.0.1\nrsync_module = m\n'
	printf 'remote_dir = /\npassword_file = %s\n' "$TMPD/pw"
	printf 'preexec = touch %s\npostexec = touch %s\n\n' "$M/nokey_pre" "$M/nokey_post"
} >>"$CBAD"
tb_run -c "$CBAD" backup
t_rc 3 "preexec/postexec without private_key: configuration error (exit 3)"
t_match '\[daemonjob\] preexec: needs private_key' "$T_ERR" "the error names preexec and private_key"
t_match '\[daemonjob\] postexec: needs private_key' "$T_ERR" "the error names postexec and private_key"
t_ok "without private_key: nothing ran" test ! -e "$M/nokey_pre"
# The job cannot run (issue 17): one ERROR row saying why, no backup.
t_eq "ERROR|1" "$(sql "$CATALOG" "select status, log like '%preexec: needs private_key%' from stats where backup_name='daemonjob'" 2>/dev/null)" \
	"without private_key: one ERROR row naming the problem"

t_done
