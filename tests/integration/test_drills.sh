#!/usr/bin/env bash
#
# Fault drills as a test: tisbackup killed with -9 at random moments of an
# rsync+ssh backup (from its start to the middle of the transfer), then
# the invariants: no child (rsync, ssh) alive once it is gone, no snapshot
# under a final name that differs from its source, and the next run
# succeeds (no stale lock) and leaves no Running row. The moments come
# from a seed printed first; replay with TB_DRILL_SEED=N.
#
# Kills inside a pgsql+ssh dump and a cleanup: test_drills_kill.sh.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SEED=${TB_DRILL_SEED:-$(date +%s)}
t_diag "seed $SEED (replay: TB_DRILL_SEED=$SEED)"
RANDOM=$SEED
KILLS=10

SRC=$TMPD/src
make_tree "$SRC"
head -c 3000000 /dev/urandom >"$SRC/big.bin"
JOBDIR=$BASE/drill
SLOW=$TMPD/slow.ini
FAST=$TMPD/fast.ini
cfg_global "$SLOW"
cfg_job "$SLOW" drill "$SRC" "bwlimit = 500"
cfg_global "$FAST"
cfg_job "$FAST" drill "$SRC"

# Processes that still work on the job folder or read the source.
leftovers() {
	pgrep -f -- "$JOBDIR" ; pgrep -f -- "$SRC/"
}
no_leftovers() { [ -z "$(leftovers)" ]; }

bad_snapshots=0
for ((k = 1; k <= KILLS; k++)); do
	delay_ms=$((RANDOM % 2500))
	"$TISBACKUP" -c "$SLOW" backup >/dev/null 2>&1 </dev/null &
	P=$!
	tb_track $P
	# From the start: a random time, at most until the transfer is under way.
	sleep "$(printf '0.%03d' $((delay_ms % 1000)))"
	[ $delay_ms -ge 1000 ] && wait_until 30 bash -c "ls -d $JOBDIR/*.rsync >/dev/null 2>&1"
	kill -9 $P 2>/dev/null
	wait $P 2>/dev/null
	if wait_until 20 no_leftovers; then
		t_pass "kill $k (${delay_ms} ms): no rsync or ssh left once tisbackup is gone"
	else
		t_fail "kill $k (${delay_ms} ms): no rsync or ssh left once tisbackup is gone" \
			"$(ps -o pid,args -p "$(leftovers | tr '\n' ',' | sed 's/,$//')")"
		for p in $(leftovers); do kill -9 "$p" 2>/dev/null; done
	fi
	for s in $(snapshots "$JOBDIR"); do
		tree_equal "$SRC" "$JOBDIR/$s" >/dev/null 2>&1 || bad_snapshots=$((bad_snapshots + 1))
	done
	wait_next_second
done
t_eq 0 "$bad_snapshots" "after $KILLS kills: every snapshot under a final name equals its source"

tb_run -c "$FAST" backup
t_rc 0 "the next run succeeds (no stale lock)"
t_eq 0 "$(csql "select count(*) from stats where status = 'Running'")" "no Running row after the next run"
t_eq OK "$(last_row drill status)" "the next run's row is OK"
S=$(snapshots "$JOBDIR" | tail -n 1)
t_ok "its snapshot equals the source" tree_equal "$SRC" "$JOBDIR/$S"

t_done
