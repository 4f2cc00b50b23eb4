#!/usr/bin/env bash
#
# exportbackup into loop-mounted ext4 filesystems (what the USB export
# writes to): a real rsync+ssh backup exported and compared with its
# snapshot, the EXPORT rows, --delete on the next export, a file backup
# (only the latest file stays), the checks on -x (missing, not a folder,
# read-only mount), a job without a good backup, a job whose backup is
# gone from disk, a disk that fills up, a dry run, and BACKUP rows that
# are never touched.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen mkfs.ext4 losetup mount umount cmp
if [ "$(id -u)" != 0 ] || [ ! -e /dev/loop-control ]; then
	echo "1..0 # SKIP needs root and loop devices (exports go to loop-mounted ext4)"
	exit 0
fi
tb_tmp
sshd_start

# ---------------------------------------------------------------- loop filesystems

LOOPS=()
MOUNTS=()
# shellcheck disable=SC2317 # run by the EXIT trap
_export_cleanup() {
	local m l
	for m in "${MOUNTS[@]}"; do
		fsfreeze -u "$m" 2>/dev/null
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	return 0
}
# Unmount and detach before lib.sh removes $TMPD.
trap 'st=$?; _export_cleanup; (exit $st); _tb_cleanup' EXIT

# loopfs SIZE_MB DIR: a fresh ext4 labelled tisbackup, mounted at DIR.
loopfs() {
	local size=$1 dir=$2 img dev
	img=$TMPD/$(basename "$dir").img
	dd if=/dev/zero of="$img" bs=1M count="$size" status=none || return 1
	mkfs.ext4 -q -F -L tisbackup "$img" || return 1
	dev=$(losetup -f --show "$img") || return 1
	LOOPS+=("$dev")
	mkdir -p "$dir" || return 1
	mount -t ext4 "$dev" "$dir" || return 1
	MOUNTS+=("$dir")
}

EXP=$TMPD/usb
TINY=$TMPD/tiny
loopfs 64 "$EXP" || t_bail "cannot set up a 64M loop-mounted ext4 at $EXP"
loopfs 8 "$TINY" || t_bail "cannot set up an 8M loop-mounted ext4 at $TINY"

# ---------------------------------------------------------------- helpers

# add_row NAME STATUS TYPE LOCATION AGE_SECONDS: a catalog row as a past run left it.
add_row() {
	local start
	start=$(iso_ago "$5" 000000)
	csql "insert into stats (backup_name, server_name, description, backup_start, backup_end,
		backup_duration, total_files_count, written_files_count, total_bytes, written_bytes,
		status, log, backup_location, TYPE)
		values ('$1', '127.0.0.1', '', '$start', '$start', 0.01, 1, 1, 1, 1, '$2',
		'made by the test', '$4', '$3')"
}
# Every BACKUP row, all columns: exports must leave this unchanged.
backup_rows() {
	csql "select rowid, * from stats where TYPE = 'BACKUP' order by rowid"
}
nrows() {
	csql "select count(*) from stats"
}
# export_row JOB COLUMNS: the newest EXPORT row of JOB.
export_row() {
	csql "select $2 from stats where backup_name = '$1' and TYPE = 'EXPORT' order by rowid desc limit 1"
}
# Names in a folder, sorted, lost+found left out.
names_in() {
	find "$1" -mindepth 1 -maxdepth 1 ! -name lost+found -printf '%f\n' 2>/dev/null | LC_ALL=C sort
}

# ---------------------------------------------------------------- backups to export

SRC=$TMPD/src
make_tree "$SRC"
cfg_global "$CONF"
cfg_job "$CONF" srv1 "$SRC" "description = first server"
cfg_job "$CONF" nobackup "$TMPD/unused"
cfg_job "$CONF" gone "$TMPD/unused"
cfg_job "$CONF" filejob "$TMPD/unused"
cfg_job "$CONF" bigjob "$TMPD/unused"
cfg_null "$CONF" nulljob

tb_run -c "$CONF" -s srv1 backup
t_rc 0 "a real rsync+ssh backup of srv1 to export"
S1=$(snapshots "$BASE/srv1" | tail -n 1)
[ -n "$S1" ] || t_bail "no snapshot of srv1: $(tb_show)"

# nobackup: an ERROR backup and an OK *export*, but no OK backup.
mkdir -p "$BASE/nobackup/20250101-01h00m00"
echo x >"$BASE/nobackup/20250101-01h00m00/f"
add_row nobackup ERROR BACKUP "$BASE/nobackup/20250101-01h00m00" 7200
add_row nobackup OK EXPORT "$TMPD/elsewhere/nobackup" 3600
# gone: an older OK backup still on disk, the latest one deleted.
mkdir -p "$BASE/gone/20240101-01h00m00" "$BASE/gone/20250101-01h00m00"
echo x >"$BASE/gone/20240101-01h00m00/f"
add_row gone OK BACKUP "$BASE/gone/20240101-01h00m00" 86400
add_row gone OK BACKUP "$BASE/gone/20250101-01h00m00" 3600
rm -rf "$BASE/gone/20250101-01h00m00"
# filejob: a backup that is one file (like xen-xva's NAME-STAMP.xva).
mkdir -p "$BASE/filejob"
F1=$BASE/filejob/filejob-20250101-01h00m00.xva
head -c 300000 /dev/urandom >"$F1"
add_row filejob OK BACKUP "$F1" 3600
# bigjob: 18M of incompressible data, for the 8M filesystem.
mkdir -p "$BASE/bigjob/20250101-01h00m00"
for i in 1 2 3; do
	head -c $((6 * 1048576)) /dev/urandom >"$BASE/bigjob/20250101-01h00m00/part$i.bin"
done
add_row bigjob OK BACKUP "$BASE/bigjob/20250101-01h00m00" 3600

# ================================================================ -x checks
rows0=$(nrows)
tb_run -c "$CONF" exportbackup
t_rc 2 "exportbackup without -x exits 2"
t_match '-x' "$T_ERR" "and says -x is needed"

tb_run -c "$CONF" -x "$TMPD/nosuchdir" exportbackup
t_rc 2 "-x naming a missing folder exits 2"
t_match "$TMPD/nosuchdir does not exist" "$T_ERR" "the message names the path and says it does not exist"

echo data >"$TMPD/afile"
tb_run -c "$CONF" -x "$TMPD/afile" exportbackup
t_rc 2 "-x naming a file exits 2"
t_match "$TMPD/afile is not a folder" "$T_ERR" "the message names the path and says it is not a folder"
t_eq "data" "$(cat "$TMPD/afile")" "the file is untouched"

if mount -o remount,ro "$EXP"; then
	tb_run -c "$CONF" -s srv1 -x "$EXP" exportbackup
	t_rc 2 "-x on a read-only mount exits 2"
	t_match "$EXP is not writable: Read-only file system" "$T_ERR" \
		"the message names the folder and the read-only filesystem"
	t_nomatch 'Exporting' "$T_ERR" "no job started"
	mount -o remount,rw "$EXP" || t_bail "cannot remount $EXP read-write"
else
	t_skip "-x on a read-only mount" "remount,ro failed"
fi
t_eq "$rows0" "$(nrows)" "failed -x checks add no catalog row"
t_eq "" "$(names_in "$EXP")" "and write nothing to the export disk"

# ================================================================ dry run
tb_run -c "$CONF" -d -s srv1,filejob -x "$EXP" exportbackup
t_rc 0 "dry run exits 0"
# shown JOB: the command the dry run printed for JOB (one word a line), on one line.
shown() {
	printf '%s\n' "$T_ERR" | sed -n "/\[$1\] dry run: would run:\$/,/[^\\\\]\$/p" | tail -n +2 |
		sed -e "s/^.*\[$1\]     //" -e 's/ \\$//' | tr '\n' ' '
}
t_eq "rsync -a --delete --numeric-ids --partial --stats -- $BASE/srv1/$S1/ $EXP/srv1/ " "$(shown srv1)" \
	"dry run prints the rsync command for a folder (contents into {exportdir}/{section}/)"
t_match "^rsync .*--delete-excluded --include=/filejob-20250101-01h00m00\.xva '--exclude=\*' -- $BASE/filejob/ $EXP/filejob/ \$" \
	"$(shown filejob)" "dry run prints the rsync command for a file (only that name, into {exportdir}/{section}/)"
t_eq "$rows0" "$(nrows)" "dry run adds no catalog row"
t_eq "" "$(names_in "$EXP")" "dry run writes nothing to the export disk"

tb_run -c "$CONF" -b "$TMPD/nobase" -d -s srv1 -x "$EXP" exportbackup
t_rc 1 "dry run without a catalog exits 1"
t_match "no catalog at $TMPD/nobase/log/tisbackup.sqlite" "$T_ERR" "and says there is no catalog"
t_ok "and creates none" test ! -e "$TMPD/nobase/log/tisbackup.sqlite"

# ================================================================ dangerous targets
# Any target inside backup_base_dir is refused before anything runs
# (exit 2, no row): -x backup_base_dir would make {exportdir}/srv1 srv1's
# own folder, which --delete would reduce to one snapshot's contents;
# {base}/log and a job folder would mix copies into what cleanup owns.
snaps_before=$(ls -A "$BASE/srv1")
rows_before=$(csql "select count(*) from stats")
ln -s "$BASE" "$TMPD/baselink"
for x in "$BASE" "$BASE/log" "$BASE/srv1" "$BASE/srv1/$S1" "$TMPD/baselink" "$TMPD/baselink/log"; do
	tb_run -c "$CONF" -s srv1 -x "$x" exportbackup
	t_rc 2 "-x $x (inside backup_base_dir): usage error, exit 2"
	t_match "refusing to export into $x: it lies inside backup_base_dir" "$T_ERR" \
		"-x $x: the message names the folder and backup_base_dir"
done
t_eq "$snaps_before" "$(ls -A "$BASE/srv1")" "srv1's folder untouched"
t_ok "the snapshot is intact" tree_equal "$SRC" "$BASE/srv1/$S1"
t_ok "nothing created inside the snapshot" test ! -e "$BASE/srv1/$S1/srv1"
t_ok "nothing created in the log folder" test ! -e "$BASE/log/srv1"
t_eq "$rows_before" "$(csql "select count(*) from stats")" "a refused target records no row"

# ================================================================ export
before=$(backup_rows)
tb_run -c "$CONF" -s srv1,nobackup,gone,filejob,nulljob -x "$EXP" exportbackup
t_rc 1 "export with two failing jobs exits 1"
t_match 'Export processed : srv1,filejob$' "$T_ERR" "summary 'Export processed : srv1,filejob'"
t_match 'Export processed with errors: nobackup,gone$' "$T_ERR" \
	"summary 'Export processed with errors: nobackup,gone'"

# ---- srv1: the exported tree is the snapshot
t_ok "exported tree equals the snapshot (content, modes, numeric ids, symlinks, mtimes)" \
	tree_equal "$BASE/srv1/$S1" "$EXP/srv1"
t_eq "$GHOST_UID:$GHOST_GID" "$(stat -c %u:%g "$EXP/srv1/owned_by_ghost" 2>/dev/null)" \
	"uid/gid without a passwd entry kept numerically"
t_eq "plain.txt" "$(readlink "$EXP/srv1/rel_link")" "symlink exported as a symlink"
t_ok "fifo exported as a fifo" test -p "$EXP/srv1/fifo"
t_ok "no injected command ran" no_markers
t_eq 1 "$(csql "select count(*) from stats where backup_name = 'srv1' and TYPE = 'EXPORT'")" \
	"one EXPORT row for srv1"
IFS='|' read -r st loc files wfiles bytes wbytes srv desc start end <<<"$(export_row srv1 \
	"status,backup_location,total_files_count,written_files_count,total_bytes,written_bytes,server_name,description,backup_start,backup_end")"
t_eq OK "$st" "EXPORT row status OK"
t_eq "$EXP/srv1" "$loc" "EXPORT row backup_location = {exportdir}/{section}"
t_num_ge 1 "$files" "EXPORT row total_files_count > 0 ($files)"
nreg=$(find "$BASE/srv1/$S1" -type f -printf x | wc -c)
t_eq "$nreg" "$wfiles" "EXPORT row written_files_count = the snapshot's regular files"
t_num_ge 1048576 "$bytes" "EXPORT row total_bytes counts the tree ($bytes)"
t_num_ge 1048576 "$wbytes" "EXPORT row written_bytes counts the copy ($wbytes)"
t_eq 127.0.0.1 "$srv" "EXPORT row server_name"
t_eq "first server" "$desc" "EXPORT row description"
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$' "$start" "EXPORT row backup_start is ISO"
t_check "EXPORT row backup_end >= backup_start" "$([[ ! "$end" < "$start" ]]; echo $?)"
t_match "^export of $BASE/srv1/$S1 to $EXP/srv1 OK, $wbytes bytes written for $wfiles changed files$" \
	"$(export_row srv1 log)" "EXPORT row log 'export of SNAPSHOT to DEST OK, N bytes written for M changed files'"

# ---- filejob: the file under its own name
t_eq "filejob-20250101-01h00m00.xva" "$(names_in "$EXP/filejob")" "file backup exported under its own name"
t_ok "exported file equals the backup" cmp "$F1" "$EXP/filejob/filejob-20250101-01h00m00.xva"
t_eq "OK|$EXP/filejob|300000" "$(export_row filejob status,backup_location,written_bytes)" \
	"EXPORT row of the file: OK, location, bytes"

# ---- nobackup: no OK BACKUP row
t_match "ERROR \[nobackup\] .*no good backup to export" "$T_ERR" "job without an OK backup: error logged"
t_eq "ERROR|$EXP/nobackup" "$(export_row nobackup status,backup_location)" "job without an OK backup: ERROR EXPORT row"
t_match 'no good backup to export' "$(export_row nobackup log)" "its log says there is no good backup"
t_ok "nothing exported for it" test ! -e "$EXP/nobackup"

# ---- gone: the latest OK backup was deleted
t_match "ERROR \[gone\] .*$BASE/gone/20250101-01h00m00, is gone from disk" "$T_ERR" \
	"job whose latest backup was deleted: error names the location"
t_eq ERROR "$(export_row gone status)" "its EXPORT row is ERROR"
t_match "$BASE/gone/20250101-01h00m00" "$(export_row gone log)" "its log names the location"
t_ok "the older backup was not exported instead" test ! -e "$EXP/gone/f"

# ---- the rest
t_eq 0 "$(csql "select count(*) from stats where backup_name = 'nulljob'")" "null job: no row"
t_eq "$before" "$(backup_rows)" "BACKUP rows unchanged by the export"
t_eq 0 "$(csql "select count(*) from stats where status = 'Running'")" "no Running row left"
t_match 'Export processed : srv1,filejob' "$(cat "$BASE"/log/tisbackup_*.log 2>/dev/null)" \
	"run log has the summary"

# ================================================================ second export: --delete
printf 'changed content, longer than before\n' >"$SRC/plain.txt"
printf 'brand new\n' >"$SRC/new.txt"
rm -f "$SRC/sub/a.txt"
wait_next_second
tb_run -c "$CONF" -s srv1 backup
t_rc 0 "second backup of srv1"
S2=$(snapshots "$BASE/srv1" | tail -n 1)
t_ne "$S1" "$S2" "a new snapshot"
t_ok "the new snapshot lacks the deleted file" test ! -e "$BASE/srv1/$S2/sub/a.txt"
before=$(backup_rows)
tb_run -c "$CONF" -s srv1 -x "$EXP" exportbackup
t_rc 0 "second export exits 0"
t_match 'Export processed : srv1$' "$T_ERR" "summary 'Export processed : srv1'"
t_ok "export now equals the new snapshot" tree_equal "$BASE/srv1/$S2" "$EXP/srv1"
t_ok "file deleted in the new snapshot is gone from the export (--delete)" test ! -e "$EXP/srv1/sub/a.txt"
t_eq "brand new" "$(cat "$EXP/srv1/new.txt" 2>/dev/null)" "new file exported"
t_eq 2 "$(csql "select count(*) from stats where backup_name = 'srv1' and TYPE = 'EXPORT' and status = 'OK'")" \
	"two OK EXPORT rows for srv1"
exp=$(($(stat -c %s "$SRC/plain.txt") + $(stat -c %s "$SRC/new.txt")))
t_eq "2|$exp" "$(export_row srv1 written_files_count,written_bytes)" \
	"second export copies only the changed and the new file"
t_match "^export of $BASE/srv1/$S2 to " "$(export_row srv1 log)" "second EXPORT row names the new snapshot"
t_eq "$before" "$(backup_rows)" "BACKUP rows unchanged by the second export"

# ---- relative -x
pushd "$TMPD" >/dev/null || t_bail "cd $TMPD"
tb_run -c "$CONF" -s srv1 -x usb exportbackup
popd >/dev/null || t_bail "cd back"
t_rc 0 "relative -x exits 0"
t_eq "$EXP/srv1" "$(export_row srv1 backup_location)" "relative -x recorded as an absolute location"
t_eq 0 "$(export_row srv1 written_files_count)" "nothing to copy the third time"

# ================================================================ file backups: only the latest stays
F2=$BASE/filejob/filejob-20250102-01h00m00.xva
head -c 200000 /dev/urandom >"$F2"
add_row filejob OK BACKUP "$F2" 60
tb_run -c "$CONF" -s filejob -x "$EXP" exportbackup
t_rc 0 "export of a newer file backup exits 0"
t_eq "filejob-20250102-01h00m00.xva" "$(names_in "$EXP/filejob")" \
	"the export folder holds the latest file only (the previous export's file is deleted)"
t_ok "exported file equals the latest backup" cmp "$F2" "$EXP/filejob/filejob-20250102-01h00m00.xva"
t_ok "the backups themselves are untouched" test -f "$F1" -a -f "$F2"

# ================================================================ disk full
before=$(backup_rows)
tb_run -c "$CONF" -s bigjob -x "$TINY" exportbackup
t_rc 1 "export that fills the disk exits 1"
t_match 'No space left on device' "$T_ERR" "rsync's 'No space left on device' is logged"
t_match 'Export processed with errors: bigjob$' "$T_ERR" "summary names the failed job"
IFS='|' read -r st loc <<<"$(export_row bigjob status,backup_location)"
t_eq ERROR "$st" "disk full: ERROR EXPORT row"
t_eq "$TINY/bigjob" "$loc" "disk full: row location is the destination"
t_match 'No space left on device' "$(export_row bigjob log)" "disk full: rsync's message in the row's log"
t_match "rsync of $BASE/bigjob/20250101-01h00m00 to $TINY/bigjob failed \(exit code" \
	"$(export_row bigjob log)" "disk full: the log says which copy failed and how"
t_eq "$before" "$(backup_rows)" "BACKUP rows unchanged by the failed export"
t_eq 0 "$(csql "select count(*) from stats where status = 'Running'")" "no Running row left"

# ================================================================ a stalled export
# The export's rsync runs under the job's watchdog: an rsync that stops
# (no output, nothing read) is ended after stall_timeout and the export
# is ERROR. To stop it at a known point, its destination is a filesystem
# of its own, frozen: rsync blocks on its first write there (state D);
# the test then SIGSTOPs rsync's process group and thaws the filesystem.
cfg_job "$CONF" stalljob "$TMPD/unused" "stall_timeout = 3"
mkdir -p "$BASE/stalljob/20250101-01h00m00"
echo x >"$BASE/stalljob/20250101-01h00m00/f"
add_row stalljob OK BACKUP "$BASE/stalljob/20250101-01h00m00" 3600
XST=$TMPD/xstall
loopfs 8 "$XST/stalljob" || t_bail "cannot set up a loop-mounted ext4 at $XST/stalljob"
# rsync_in STATE: some process of the export's rsync is in STATE (D, T).
# shellcheck disable=SC2317 # run by wait_until
rsync_in() {
	local p
	for p in $(pgrep -f -- "$XST/stalljob/"); do
		[ "$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" = "$1" ] && return 0
	done
	return 1
}
fsfreeze -f "$XST/stalljob" || t_bail "cannot freeze $XST/stalljob"
timeout -k 5 120 "$TISBACKUP" -c "$CONF" -s stalljob -x "$XST" exportbackup \
	>"$TMPD/stall.out" 2>"$TMPD/stall.err" </dev/null &
BG=$!
tb_track "$BG"
if wait_until 60 rsync_in D; then
	pg=$(ps -o pgid= -p "$(pgrep -f -- "$XST/stalljob/" | head -n 1)" | tr -d ' ')
	kill -STOP -- "-$pg"
	fsfreeze -u "$XST/stalljob"
	t_ok "stalled export: rsync stopped" wait_until 60 rsync_in T
else
	fsfreeze -u "$XST/stalljob"
	t_fail "stalled export: rsync blocked on the frozen destination"
fi
wait "$BG"
rc=$?
t_eq 1 "$rc" "stalled export: ended by the watchdog, exit 1 (124: never ended)"
t_eq ERROR "$(export_row stalljob status)" "stalled export: ERROR EXPORT row"
t_match "rsync of $BASE/stalljob/20250101-01h00m00 to $XST/stalljob failed: no data for 3 s: the transfer stalled \(stall_timeout = 3\)" \
	"$(export_row stalljob log)" "stalled export: the row says the transfer stalled"
t_match "\[stalljob\] export failed: .*the transfer stalled" "$(cat "$TMPD/stall.err")" \
	"stalled export: logged"
# shellcheck disable=SC2317 # run by wait_until
no_rsync_left() {
	! pgrep -f -- "$XST/stalljob/" >/dev/null
}
t_ok "stalled export: no rsync left" wait_until 10 no_rsync_left

# ================================================================ recording fails
# The catalog refuses to record the result: the run's own outcome is
# still told, beside the recording failure, for an export and a backup.
csql "create trigger refuse before update on stats begin select raise(abort, 'disk on fire'); end"
tb_run -c "$CONF" -s nobackup -x "$EXP" exportbackup
t_rc 1 "export whose result cannot be recorded exits 1"
t_match "\[nobackup\] recording the export's result failed: .*disk on fire.*; the export itself failed: no good backup to export" \
	"$T_ERR" "failed export, recording refused: both errors logged"
tb_run -c "$CONF" -s filejob -x "$EXP" exportbackup
t_rc 1 "successful export whose result cannot be recorded exits 1"
t_match "\[filejob\] recording the export's result failed: .*disk on fire.*; the export itself succeeded: export of $F2 to $EXP/filejob OK" \
	"$T_ERR" "successful export, recording refused: the success is told too"
tb_run -c "$CONF" -s srv1 backup
t_rc 1 "backup whose result cannot be recorded exits 1"
t_match "\[srv1\] recording the backup's result failed: .*disk on fire.*; the backup itself succeeded: ssh\+rsync backup from .* OK" \
	"$T_ERR" "successful backup, recording refused: the success is told too"
csql "drop trigger refuse"
csql "delete from stats where status = 'Running'"

t_done
