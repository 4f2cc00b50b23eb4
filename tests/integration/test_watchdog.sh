#!/usr/bin/env bash
# The watchdog: a transfer whose remote side stops sending (its rsync is
# SIGSTOPped) is ended within stall_timeout and recorded as ERROR with the
# reason; a job longer than max_runtime is ended; a preexec that hangs
# silently is ended too. The backup tree lives on its own tmpfs so the
# disk-progress probe only sees this test's writes.
. "$(dirname "$0")/lib.sh"
tb_require_binary
sshd_start

BASE=$TMPD/backups
mkdir -p "$BASE"
mount -t tmpfs -o size=256m tbwatchdog "$BASE" || t_bail "cannot mount a tmpfs"
trap 'umount -l "$BASE" 2>/dev/null; _tb_cleanup' EXIT

SRC=$TMPD/src
mkdir -p "$SRC"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$SRC/big"
CONF=$TMPD/w.ini
cfg_global "$CONF"
cfg_job "$CONF" stalled "$SRC" "bwlimit = 200" "stall_timeout = 4"
cfg_job "$CONF" longrun "$SRC" "bwlimit = 200" "max_runtime = 3"
cfg_job "$CONF" hungpre "$SRC" "preexec = sleep 60" "stall_timeout = 3"

# Every process below sshd: the remote side of our connections.
descendants() {
	local p c
	for p in $(pgrep -P "$1"); do
		echo "$p"
		descendants "$p"
	done
}
remote_rsync() {
	local p
	for p in $(descendants "$SSHD_PID"); do
		grep -qa -- '--server' "/proc/$p/cmdline" 2>/dev/null && echo "$p"
	done
}

# ---- remote side stops sending
"$TISBACKUP" -c "$CONF" -s stalled backup >"$TMPD/stalled.out" 2>"$TMPD/stalled.err" &
BG=$!
tb_track "$BG"
wait_until 30 bash -c "[ -n \"\$(ls -d $BASE/stalled/*.rsync 2>/dev/null)\" ]" ||
	t_fail "the stalled job started transferring"
sleep 1
pids=$(remote_rsync)
t_ne "" "$pids" "found the remote rsync process"
t0=$(date +%s)
for p in $pids; do kill -STOP "$p"; done
wait "$BG"
rc=$?
t1=$(date +%s)
for p in $pids; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
t_eq 1 "$rc" "stalled transfer: exit 1"
elapsed=$((t1 - t0))
if [ "$elapsed" -le 25 ]; then
	t_pass "stalled transfer ended within the stall timeout (+ grace): ${elapsed}s"
else
	t_fail "stalled transfer ended within the stall timeout (+ grace)" "took ${elapsed}s"
fi
t_eq ERROR "$(csql "select status from stats where backup_name='stalled' order by rowid desc limit 1")" \
	"stalled transfer: ERROR row"
t_imatch 'stall|timeout|timed out' "$(csql "select log from stats where backup_name='stalled' order by rowid desc limit 1")" \
	"stalled transfer: the row says it stalled"
t_eq "" "$(snapshots "$BASE/stalled")" "stalled transfer: no finished snapshot"
sleep 1
left=$(pgrep -f -- "$BASE/stalled" || true)
t_eq "" "$left" "stalled transfer: no local rsync/ssh left running"

# ---- max_runtime
tb_run -c "$CONF" -s longrun backup
t_rc 1 "max_runtime exceeded: exit 1"
t_eq ERROR "$(csql "select status from stats where backup_name='longrun' order by rowid desc limit 1")" \
	"max_runtime exceeded: ERROR row"
t_imatch 'timed out|time limit' "$(csql "select log from stats where backup_name='longrun' order by rowid desc limit 1")" \
	"max_runtime exceeded: the row says it timed out"
dur=$(csql "select cast(backup_duration * 3600 as int) from stats where backup_name='longrun' order by rowid desc limit 1")
t_check "max_runtime exceeded: ended after about 3 s (took ${dur}s)" "$([ "$dur" -le 15 ]; echo $?)"

# ---- a preexec that hangs without a word
tb_run -c "$CONF" -s hungpre backup
t_rc 1 "silent preexec: exit 1"
t_imatch 'preexec.*stall' "$(csql "select log from stats where backup_name='hungpre' order by rowid desc limit 1")" \
	"silent preexec: the row says preexec stalled"
dur=$(csql "select cast(backup_duration * 3600 as int) from stats where backup_name='hungpre' order by rowid desc limit 1")
t_check "silent preexec: ended after about 3 s, not 60 (took ${dur}s)" "$([ "$dur" -le 20 ]; echo $?)"

# ---- bad values
printf '[global]\nbackup_base_dir = %s\nbackup_retention_time = 1\nmaximum_backup_age = 1\n' "$TMPD/b2" >"$TMPD/bad.ini"
cfg_job "$TMPD/bad.ini" x "$SRC" "stall_timeout = -5"
tb_run -c "$TMPD/bad.ini" backup
t_rc 3 "stall_timeout = -5: configuration error"
t_match 'stall_timeout' "$T_ERR" "the message names stall_timeout"
t_done
