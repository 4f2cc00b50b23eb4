#!/usr/bin/env bash
#
# Migration day: the original TISBackup and this binary side by side on
# the same tree and catalog. A lock file written by a live run of the
# original (pid=N, no flock) keeps this binary away from that job and
# leaves the original's Running row alone; once the original is gone, the
# next run takes the job and repairs the row.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
CONF=$TMPD/tisbackup.ini
cfg_global "$CONF"
cfg_job "$CONF" shared "$SRC"
cfg_job "$CONF" other "$SRC"
JOBDIR=$BASE/shared
mkdir -p "$JOBDIR" "$BASE/log"

# A stand-in for the original's process: its command line names
# tisbackup.py, its executable is not ours.
bash -c 'exec -a tisbackup.py sleep 600' &
ORIG=$!
trap 'kill $ORIG 2>/dev/null' EXIT
t_ok "the stand-in original is running" wait_until 30 grep -q tisbackup "/proc/$ORIG/cmdline"
ORIG_START=$(iso_ago 60)
printf 'pid=%s\nbackup_time=20261204-10h00m00\n' "$ORIG" >"$JOBDIR/lock"
# The first backup creates the catalog; then the original's Running row.
tb_run -c "$CONF" -s other backup
t_rc 0 "another job runs while the original holds 'shared'"
csql "insert into stats (backup_name,server_name,description,backup_start,backup_end,status,log,TYPE)
 values ('shared','127.0.0.1','','$ORIG_START','$ORIG_START','Running','','BACKUP')" >/dev/null

tb_run -c "$CONF" -s shared backup
t_rc 1 "a job whose lock file names a live original run is busy: exit 1"
t_match "already running \(pid $ORIG, backup 20261204-10h00m00\)" "$T_OUT$T_ERR" \
	"the message names the original's pid and backup"
t_eq "" "$(snapshots "$JOBDIR")$(partials "$JOBDIR")" "no transfer was started beside the original's"
t_eq "Running" "$(csql "select status from stats where backup_name='shared' and backup_start='$ORIG_START'")" \
	"the original's Running row is left alone"
t_eq "$(printf 'pid=%s\nbackup_time=20261204-10h00m00' "$ORIG")" "$(cat "$JOBDIR/lock")" \
	"the original's lock file is left as it was"
t_eq 0 "$(csql "select count(*) from stats where backup_name='shared' and status!='Running'")" \
	"no row recorded for the refused run"

# checknagios reads only: the Running row of a recent start is a warning.
tb_run -c "$CONF" -s shared checknagios
t_rc 1 "checknagios: the original's recent Running row is a WARNING"

# A stale lock file of a dead process, or of a pid reused by an unrelated
# process, does not block.
kill "$ORIG"
wait "$ORIG" 2>/dev/null
sleep 600 &
UNRELATED=$!
printf 'pid=%s\nbackup_time=20261204-10h00m00\n' "$UNRELATED" >"$JOBDIR/lock"
tb_run -c "$CONF" -s shared backup
t_rc 0 "a lock file naming an unrelated live process (pid reused) does not block"
kill "$UNRELATED"
wait "$UNRELATED" 2>/dev/null
t_eq 1 "$(snapshots "$JOBDIR" | wc -l)" "the backup was made"
t_eq "ERROR" "$(csql "select status from stats where backup_name='shared' and backup_start='$ORIG_START'")" \
	"once the original is gone, its dead Running row is repaired"
t_ok "the lock file is removed after the run" test ! -e "$JOBDIR/lock"

# ================================================================ inline comments
# The README's own example, as an admin would paste it: ' ; days' after
# values is a comment, as the original reads it.
awk '/^```ini$/{f=1;next} /^```$/{f=0} f' "$TB_SOURCE_ROOT/README.md" >"$TMPD/readme.ini"
t_match 'backup_retention_time = 30 +; days' "$(cat "$TMPD/readme.ini")" "the README example has inline comments"
tb_run -c "$TMPD/readme.ini" -b "$TMPD/readme-base" checknagios
t_rc 2 "the README example loads (checknagios: CRITICAL, no backup yet; not 3, configuration error)"
t_match 'No backup found for srv-files' "$T_OUT" "the README example's job is read"
CC=$TMPD/comments.ini
cfg_global "$CC"
cfg_job "$CC" commented "$SRC" "type=rsync+ssh ; the original's type" "compression = no # no need on loopback"
tb_run -c "$CC" -s commented backup
t_rc 0 "type=rsync+ssh ; x and 'compression = no # x': a backup runs"
t_eq 1 "$(snapshots "$BASE/commented" | wc -l)" "the commented job made its snapshot"

t_done
