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
# (its private_key is the README's path: where it cannot be read, the job
# is reported as one that cannot run, which still shows it was read)
t_match '^\[srv-files\]:CRITICAL : (No backup found for srv-files|srv-files cannot run: .*\[srv-files\] private_key: )' \
	"$T_OUT" "the README example's job is read"
CC=$TMPD/comments.ini
cfg_global "$CC"
cfg_job "$CC" commented "$SRC" "type=rsync+ssh ; the original's type" "compression = no # no need on loopback"
tb_run -c "$CC" -s commented backup
t_rc 0 "type=rsync+ssh ; x and 'compression = no # x': a backup runs"
t_eq 1 "$(snapshots "$BASE/commented" | wc -l)" "the commented job made its snapshot"

# ---- one job the binary cannot run does not stop the others (issue 17 #3)
# A job of a type not implemented here and a job whose private_key cannot
# be read: each is reported with file:line, section and key, gets an
# ERROR row saying why, and makes the exit code 3 (a configuration
# problem); the good job backs up. checknagios says CRITICAL for them.
IC=$TMPD/invalid.ini
cfg_global "$IC"
cfg_job "$IC" good "$SRC"
job_section "$IC" vm type=xen-xva-notreal server_name=xen1
cfg_job "$IC" nokey "$SRC" "private_key = $TMPD/no-such-key"
TL=$(grep -n '^type = xen-xva-notreal' "$IC" | cut -d: -f1)
KL=$(grep -n "^private_key = $TMPD/no-such-key" "$IC" | cut -d: -f1)
ICQ=$(printf '%s' "$IC" | sed 's#[][\.*^$+?(){}|]#\\&#g')
rows_before=$(csql "select count(*) from stats where backup_name='good' and status='OK'")
tb_run -c "$IC" backup
t_rc 3 "a config with invalid jobs: backup exits 3 (documented)"
t_match "$ICQ:$TL: \[vm\] type: unknown type 'xen-xva-notreal'" "$T_ERR" \
	"the unknown type is reported with file:line, section and key"
t_match "$ICQ:$KL: \[nokey\] private_key: " "$T_ERR" \
	"the unreadable private_key is reported with file:line, section and key"
t_eq "$((rows_before + 1))" "$(csql "select count(*) from stats where backup_name='good' and status='OK'")" \
	"the good job backed up (a new OK row)"
t_eq "ERROR" "$(last_row vm status)" "the unknown-type job has an ERROR row"
t_match "cannot run: .*invalid\.ini:$TL: \[vm\] type: unknown type" "$(last_row vm log)" \
	"its row names file:line and the key"
t_eq "ERROR" "$(last_row nokey status)" "the job with an unreadable key has an ERROR row"
t_match "cannot run: .*invalid\.ini:$KL: \[nokey\] private_key: " "$(last_row nokey log)" \
	"its row names file:line and the key"
t_eq "" "$(ls "$BASE/vm" "$BASE/nokey" 2>/dev/null)" "no backup folder for the invalid jobs"
tb_run -c "$IC" checknagios
t_rc 2 "checknagios: CRITICAL (exit 2)"
t_match "^\[vm\]:CRITICAL : vm cannot run: .*:$TL: \[vm\] type: " "$T_OUT" \
	"checknagios: the unknown-type job is CRITICAL with the reason"
t_match "^\[nokey\]:CRITICAL : nokey cannot run: .*:$KL: \[nokey\] private_key: " "$T_OUT" \
	"checknagios: the unreadable-key job is CRITICAL with the reason"
tb_run -c "$IC" -s good backup
t_rc 0 "-s good backup: exit 0, the invalid jobs are not selected"
t_match "^tisbackup: warning: .*:$TL: \[vm\] type: unknown type .*\(not selected\)$" "$T_ERR" \
	"-s good backup: the invalid jobs are still reported, as warnings"
t_eq "$((rows_before + 2))" "$(csql "select count(*) from stats where backup_name='good' and status='OK'")" \
	"-s good backup: the good job backed up again"
tb_run -c "$IC" -s vm backup
t_rc 3 "-s vm backup: the selected invalid job makes the exit code 3"
t_eq 2 "$(csql "select count(*) from stats where backup_name='vm' and status='ERROR'")" \
	"-s vm backup: a second ERROR row for vm"
# A broken [global] still stops everything.
sed 's/^backup_retention_time = .*/backup_retention_time = thirty/' "$IC" >"$TMPD/broken.ini"
tb_run -c "$TMPD/broken.ini" backup
t_rc 3 "a broken [global]: exit 3"
t_eq "$((rows_before + 2))" "$(csql "select count(*) from stats where backup_name='good' and status='OK'")" \
	"a broken [global]: nothing ran"

t_done
