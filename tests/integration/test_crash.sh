#!/usr/bin/env bash
#
# A run killed with SIGKILL in the middle of a transfer: its rsync/ssh
# children die with it, nothing looks like a good backup, checknagios does
# not say OK, and the next run repairs the dead Running row, is not
# blocked by the lock, and makes a complete snapshot. A run ended with
# SIGTERM cleans up after itself.

# shellcheck source=lib.sh
# shellcheck disable=SC2016 # eval strings expand when evaluated
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen pgrep
tb_tmp
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$SRC/zz_more.bin"
JOBDIR=$BASE/crashy

# The same job, slowed down by bwlimit (about a minute) or at full speed.
SLOWCONF=$TMPD/slow.ini
FASTCONF=$TMPD/fast.ini
cfg_global "$SLOWCONF"
cfg_job "$SLOWCONF" crashy "$SRC" "bwlimit = 50"
cfg_global "$FASTCONF"
cfg_job "$FASTCONF" crashy "$SRC"

running_rows() {
	csql "select count(*) from stats where backup_name='crashy' and status='Running'" 2>/dev/null
}
transferring() {
	[ -n "$(partials "$JOBDIR")" ] && [ "$(running_rows)" = 1 ] &&
		pgrep -f -- "$JOBDIR" >/dev/null
}
# All descendants of a pid (children first found by ppid, recursively).
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}
alive() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
# Processes that still work on the job folder or read the source.
leftovers() {
	pgrep -a -f -- "$JOBDIR" ; pgrep -a -f -- "$SRC/"
}

# ================================================================ SIGKILL
"$TISBACKUP" -c "$SLOWCONF" backup >"$TMPD/slow.out" 2>"$TMPD/slow.err" </dev/null &
P=$!
tb_track $P
if wait_until 30 transferring; then
	t_pass "slow run started: STAMP.rsync, Running row and rsync exist"
else
	t_fail "slow run started: STAMP.rsync, Running row and rsync exist" \
		"partials: $(partials "$JOBDIR")" "running rows: $(running_rows)" "$(cat "$TMPD/slow.err")"
fi
sleep 1
kids=$(descendants $P)
t_match 'rsync' "$(for k in $kids; do tr '\0' ' ' <"/proc/$k/cmdline" 2>/dev/null; echo; done)" \
	"tisbackup has an rsync child before the kill"
PARTIAL=$(partials "$JOBDIR" | head -n 1)
ROWID=$(csql "select rowid from stats where backup_name='crashy' and status='Running'")
kill -9 $P
wait $P 2>/dev/null
# shellcheck disable=SC2086
if wait_until 5 eval '! alive $kids && [ -z "$(leftovers)" ]'; then
	t_pass "children (rsync, ssh) died with the killed tisbackup"
else
	t_fail "children (rsync, ssh) died with the killed tisbackup" "$(leftovers)" \
		"$(for k in $kids; do ps -o pid=,ppid=,args= -p "$k"; done)"
	# Do not let them finish the transfer behind our back.
	for k in $kids $(pgrep -f -- "$JOBDIR"); do kill -9 "$k" 2>/dev/null; done
fi

t_eq "" "$(snapshots "$JOBDIR")" "killed run: no finished STAMP folder"
t_eq "$PARTIAL" "$(partials "$JOBDIR")" "killed run: only its STAMP.rsync folder remains"
t_eq Running "$(csql "select status from stats where rowid=$ROWID")" "killed run: its row is still Running"

tb_run -c "$FASTCONF" checknagios
t_ne 0 "$T_RC" "checknagios after the kill does not exit 0"
t_match '^\[crashy\]:' "$T_OUT" "checknagios reports the job"
t_nomatch '^\[crashy\]:OK' "$T_OUT" "checknagios does not say OK for the job"
t_nomatch '^ALL backups OK' "$T_OUT" "checknagios summary is not 'ALL backups OK'"

if [ -e "$JOBDIR/lock" ]; then
	t_diag "lock file left by the killed run: $(tr '\n' ' ' <"$JOBDIR/lock")"
fi

# ================================================================ next run
wait_next_second
tb_run -c "$FASTCONF" backup
t_rc 0 "next run (no bwlimit) exits 0: the stale lock does not block it"
t_nomatch 'already running' "$T_ERR" "next run is not refused as 'already running'"
t_eq ERROR "$(csql "select status from stats where rowid=$ROWID")" "the dead run's row is now ERROR"
t_imatch 'interrupt|gone|crash|died|dead|killed|no longer|abort|vanish' \
	"$(csql "select log from stats where rowid=$ROWID")" "its log says the run was interrupted"
t_eq OK "$(csql "select status from stats where backup_name='crashy' and rowid>$ROWID order by rowid desc limit 1")" \
	"the new run's row is OK"
t_eq 0 "$(running_rows)" "no Running row remains"
S=$(snapshots "$JOBDIR" | tail -n 1)
t_match "$STAMP_RE" "$S" "a finished snapshot exists"
[ -n "$S" ] && t_ok "the snapshot is complete and equals the source" tree_equal "$SRC" "$JOBDIR/$S"
t_eq "$JOBDIR/$S" "$(csql "select backup_location from stats where backup_name='crashy' and status='OK'")" \
	"the OK row points at the snapshot"
t_ok "no lock file left after the good run" test ! -e "$JOBDIR/lock"

tb_run -c "$FASTCONF" checknagios
t_rc 0 "checknagios OK after the repair"
t_match '^\[crashy\]:OK' "$T_OUT" "checknagios says OK for the job"

# ================================================================ SIGTERM
# New data, or the incremental run would have nothing to transfer slowly.
head -c $((3 * 1024 * 1024)) /dev/urandom >"$SRC/zz_term.bin"
wait_next_second
nsnap=$(snapshots "$JOBDIR" | grep -c .)
"$TISBACKUP" -c "$SLOWCONF" backup >"$TMPD/term.out" 2>"$TMPD/term.err" </dev/null &
P=$!
tb_track $P
# The partial of the killed run is still there: wait for a second one.
twopartials() {
	[ "$(partials "$JOBDIR" | grep -c .)" -ge 2 ] || [ "$(partials "$JOBDIR" | grep -vc "^$PARTIAL\$")" -ge 1 ]
}
if wait_until 30 eval 'twopartials && [ "$(running_rows)" = 1 ] && pgrep -f -- "$JOBDIR" >/dev/null'; then
	t_pass "second slow run started"
else
	t_fail "second slow run started" "$(cat "$TMPD/term.err")"
fi
sleep 1
kids=$(descendants $P)
TROW=$(csql "select rowid from stats where backup_name='crashy' and status='Running'")
kill -TERM $P
st=0
if wait_until 15 eval '! kill -0 $P 2>/dev/null'; then
	wait $P
	st=$?
	t_ne 0 "$st" "SIGTERM: tisbackup exits non-zero ($st)"
else
	t_fail "SIGTERM: tisbackup exits within 15 s"
	kill -9 $P
fi
# shellcheck disable=SC2086
if wait_until 5 eval '! alive $kids && [ -z "$(leftovers)" ]'; then
	t_pass "SIGTERM: children are gone"
else
	t_fail "SIGTERM: children are gone" "$(leftovers)"
fi
t_eq ERROR "$(csql "select status from stats where rowid=$TROW")" "SIGTERM: the run's row is ERROR"
t_imatch 'interrupt|signal|terminat|abort|cancel' "$(csql "select log from stats where rowid=$TROW")" \
	"SIGTERM: its log says it was interrupted"
t_eq "$nsnap" "$(snapshots "$JOBDIR" | grep -c .)" "SIGTERM: no new finished snapshot"
t_ok "SIGTERM: lock released" test ! -e "$JOBDIR/lock"

t_done
