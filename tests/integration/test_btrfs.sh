#!/usr/bin/env bash
# shellcheck disable=SC2317 # helpers run through wait_until and traps
#
# The rsync+btrfs+ssh and rsync+btrfs drivers on a real btrfs: a 300 MiB
# image made with mkfs.btrfs in the build folder, on a loop device,
# mounted inside a private mount namespace (unshare --mount --propagation
# private re-runs this script) so the mount never leaks into other
# processes' namespaces; the loop device is detached on exit. Against the
# loopback sshd and rsync daemon of lib.sh (SPEC-drivers §1.7):
#   - the first run creates the subvolume last_backup, then a read-only
#     snapshot STAMP equal to the source, with the original's log line;
#     the second run snapshots again, unchanged files shared, not hardlinked;
#   - a snapshot refuses writes (touch, rm -rf) and its mtime is the end of
#     the run; snapshot_readonly = no gives the original's writable ones;
#   - a stamp taken meanwhile is an error, never a nested snapshot;
#   - last_backup as a plain folder, and a job folder not on btrfs, fail
#     in the preflight, before rsync;
#   - exit 24 warns; a missing remote_dir (exit 23, no source file) fails
#     with no snapshot; the lock is honoured; kill -9 during rsync leaves
#     no snapshot, and the next run repairs the Running row and succeeds;
#   - cleanup deletes expired snapshots as subvolumes (btrfs subvolume list
#     no longer has them), keeps the newest good one, and without
#     CAP_SYS_ADMIN says what to do; register_existing finds subvolume
#     snapshots only; exportbackup and checknagios work on them;
#   - disk usage: quotas off, btrfs snapshots are not measured; quotas on,
#     each snapshot's unique bytes equal its qgroup's exclusive bytes as
#     `btrfs qgroup show --raw` prints them; inconsistent qgroups keep no
#     figures and the log says why, once;
#   - the rsync daemon flavour.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen mkfs.btrfs btrfs losetup mount umount unshare setpriv

if [ "${TB_BTRFS_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ] || [ ! -e /dev/loop-control ]; then
		echo "1..0 # SKIP needs root and loop devices (/dev/loop-control)"
		exit 0
	fi
	if ! unshare --mount --propagation private true 2>/dev/null; then
		echo "1..0 # SKIP cannot create a private mount namespace (unshare --mount)"
		exit 0
	fi
	TB_BTRFS_NS=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "$@"
fi

tb_tmp
IMG=${TB_BUILD_ROOT:-$TMPD}/it_btrfs.$TB_ID.img
MNT=$TMPD/btrfs
LOOP=
_btrfs_cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	rm -f "$IMG"
	return 0
}
# shellcheck disable=SC2154 # st is assigned inside the trap string
trap 'st=$?; _btrfs_cleanup; (exit $st); _tb_cleanup' EXIT

truncate -s 300M "$IMG" || t_bail "cannot create $IMG"
mkfs.btrfs -q -f "$IMG" >/dev/null 2>&1 || t_bail "mkfs.btrfs failed"
if ! LOOP=$(losetup -f --show "$IMG" 2>/dev/null); then
	LOOP=
	echo "1..0 # SKIP no loop device can be attached here"
	exit 0
fi
mkdir -p "$MNT"
mount -t btrfs "$LOOP" "$MNT" || t_bail "mounting $LOOP (btrfs) on $MNT failed"

BASE=$MNT/backups
CATALOG=$BASE/log/tisbackup.sqlite
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
J=$BASE/b1

# subvol PATH: 0 when PATH is a btrfs subvolume (its root is inode 256).
subvol() {
	[ "$(stat -c %i "$1" 2>/dev/null)" = 256 ]
}
# ro PATH: "true" or "false", the subvolume's read-only property.
ro() {
	btrfs property get -ts "$1" ro 2>/dev/null | sed -n 's/^ro=//p'
}
# subvols: the paths btrfs lists, relative to the filesystem's top.
subvols() {
	btrfs subvolume list "$MNT" 2>/dev/null | awk '{print $NF}'
}
# last_ok_end JOB: the end of JOB's newest OK row, as checknagios shows it.
last_ok_end() {
	csql "select substr(replace(backup_end, 'T', ' '), 1, 19) from stats
	  where backup_name='$1' and status='OK' order by rowid desc limit 1"
}
# iso_epoch ISO: seconds since the epoch of a catalog timestamp.
iso_epoch() {
	date -d "$(printf '%s' "$1" | tr T ' ')" +%s
}
# day_iso DAYS_AGO: a catalog timestamp; day_stamp DAYS_AGO: a snapshot name.
day_iso() {
	date -d "$(date -d "-$1 days" +%F) 12:00:00" +%Y-%m-%dT%H:%M:%S.123456
}
day_stamp() {
	date -d "$(date -d "-$1 days" +%F) 12:00:00" +%Y%m%d-%Hh%Mm%S
}
# row JOB START STATUS LOCATION: a catalog row, its rowid printed.
row() {
	csql "insert into stats (backup_name, server_name, description, backup_start,
	  backup_end, backup_duration, total_files_count, written_files_count, total_bytes,
	  written_bytes, status, log, backup_location, TYPE) values ('$1', '127.0.0.1', '',
	  '$2', '$2', 0.1, 1, 1, 1, 1, '$3', 'ssh+rsync+btrfs backup OK', '$4', 'BACKUP');
	  select last_insert_rowid();"
}

cfg_global "$CONF"
cfg_job "$CONF" b1 "$SRC" "type = rsync+btrfs+ssh"

# ================================================================ first run
tb_run -c "$CONF" -s b1 -d backup
t_rc 0 "dry run exits 0"
t_match "dry run: would create the btrfs subvolume $J/last_backup" "$T_ERR" \
	"dry run: would create the working subvolume"
t_match "dry run: then snapshot $J/last_backup as $J/[0-9]{8}-.* \(read-only\)" "$T_ERR" \
	"dry run: then a read-only snapshot"
t_ok "dry run: no working copy made" test ! -e "$J/last_backup"

start=$(date +%s)
tb_run -c "$CONF" -s b1 backup
end=$(date +%s)
t_rc 0 "first backup exits 0"
t_ok "last_backup is a btrfs subvolume" subvol "$J/last_backup"
S1=$(snapshots "$J" | tail -n 1)
t_match "$STAMP_RE" "$S1" "a snapshot named STAMP"
t_ok "the snapshot is a subvolume" subvol "$J/$S1"
t_eq true "$(ro "$J/$S1")" "the snapshot is read-only"
t_eq false "$(ro "$J/last_backup")" "the working copy stays writable"
t_ok "the snapshot equals the source" tree_equal "$SRC" "$J/$S1"
t_ok "no injected command ran" no_markers
IFS='|' read -r st loc wfiles bend <<<"$(last_row b1 status,backup_location,written_files_count,backup_end)"
t_eq OK "$st" "row OK"
t_eq "$J/$S1" "$loc" "row location is the snapshot"
t_eq "$(find "$SRC" -type f -printf x | wc -c)" "$wfiles" "written_files_count = regular files"
t_match "^ssh\+rsync\+btrfs backup from root@127\.0\.0\.1:$SRC/ OK, [0-9]+ bytes written for [0-9]+ changed files$" \
	"$(last_row b1 log)" "the original's log line"
t_match "rsync from root@127\.0\.0\.1:$SRC/ into $J/last_backup" "$T_ERR" "rsync wrote into last_backup"

# ================================================================ read-only snapshot
t_not "touch inside a read-only snapshot fails" touch "$J/$S1/plain.txt"
t_not "rm -rf of a read-only snapshot fails" rm -rf "$J/$S1/sub"
t_ok "and left it whole" tree_equal "$SRC" "$J/$S1"
m=$(stat -c %Y "$J/$S1")
be=$(iso_epoch "$bend")
if [ "$m" -ge "$start" ] && [ "$m" -le "$end" ] && [ $((be - m)) -le 2 ] && [ $((m - be)) -le 2 ]; then
	t_pass "the snapshot's mtime is the end of the run"
else
	t_fail "the snapshot's mtime is the end of the run" "mtime $m, run $start..$end, backup_end $be"
fi

# ================================================================ second run
printf 'changed content\n' >"$SRC/plain.txt"
printf 'new\n' >"$SRC/new.txt"
wait_next_second
tb_run -c "$CONF" -s b1 backup
t_rc 0 "second backup exits 0"
S2=$(snapshots "$J" | tail -n 1)
t_ne "$S1" "$S2" "a second snapshot"
t_ok "the second snapshot equals the changed source" tree_equal "$SRC" "$J/$S2"
t_eq hello "$(cat "$J/$S1/plain.txt")" "the first snapshot still holds the old content"
t_eq "2" "$(last_row b1 written_files_count)" "only the two changed files were written"
t_eq "$(stat -c %i "$J/$S1/big.bin")" "$(stat -c %i "$J/$S2/big.bin")" \
	"an unchanged file is the same inode in both snapshots (shared, not copied)"
t_eq 1 "$(stat -c %h "$J/$S2/big.bin")" "and it is not hardlinked (link count 1)"

# ================================================================ snapshot_readonly = no
cfg_job "$CONF" rw "$SRC" "type = rsync+btrfs+ssh" "snapshot_readonly = no"
tb_run -c "$CONF" -s rw backup
t_rc 0 "snapshot_readonly = no: backup exits 0"
SW=$(snapshots "$BASE/rw" | tail -n 1)
t_eq false "$(ro "$BASE/rw/$SW")" "snapshot_readonly = no: a writable snapshot"

# ================================================================ stamp collision
# preexec (run through sshd, on this machine) takes the run's own stamp,
# read from the lock file, before rsync ends: the snapshot cannot be made.
CCONF=$TMPD/collide.ini
cfg_global "$CCONF"
cfg_job "$CCONF" b1 "$SRC" "type = rsync+btrfs+ssh" \
	"preexec = mkdir $J/\$(sed -n 's/^backup_time=//p' $J/lock)"
wait_next_second
tb_run -c "$CCONF" -s b1 backup
t_rc 1 "a stamp taken meanwhile: exit 1"
t_match "snapshot $J/[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2} already exists" "$T_ERR" \
	"the error says the snapshot already exists"
SC=$(snapshots "$J" | tail -n 1)
t_ne "$S2" "$SC" "the taken stamp is there"
t_ok "it is not a snapshot" test "$(stat -c %i "$J/$SC")" != 256
t_eq "" "$(ls -A "$J/$SC")" "nothing nested inside it"
t_eq "ERROR|" "$(last_row b1 status,backup_location)" "row ERROR without a location"
rmdir "$J/$SC"

# ================================================================ preflight errors
mkdir -p "$BASE/plain/last_backup"
cfg_job "$CONF" plain "$SRC" "type = rsync+btrfs+ssh"
tb_run -c "$CONF" -s plain backup
t_rc 1 "last_backup a plain folder: exit 1"
t_match "$BASE/plain/last_backup is a plain folder, not a btrfs subvolume" "$T_ERR" \
	"says last_backup is a plain folder"
t_match "mv $BASE/plain/last_backup $BASE/plain/last_backup.old" "$T_ERR" "and gives the remedy"
t_nomatch "rsync from" "$T_ERR" "before rsync ran"
t_eq "" "$(ls -A "$BASE/plain/last_backup")" "the plain folder is untouched"
t_eq "" "$(snapshots "$BASE/plain")" "no snapshot"

if [ "$(stat -f -c %T "$TMPD")" != btrfs ]; then
	ECONF=$TMPD/ext.ini
	cfg_global "$ECONF"
	sed -i "s|^backup_base_dir = .*|backup_base_dir = $TMPD/notbtrfs|" "$ECONF"
	cfg_job "$ECONF" e1 "$SRC" "type = rsync+btrfs+ssh"
	tb_run -c "$ECONF" -s e1 backup
	t_rc 1 "job folder not on btrfs: exit 1"
	t_match "$TMPD/notbtrfs/e1 is not on a btrfs filesystem" "$T_ERR" "says it is not on btrfs"
	t_match "use type = rsync\+ssh" "$T_ERR" "and suggests rsync+ssh"
	t_nomatch "rsync from" "$T_ERR" "before rsync ran"
	t_eq "" "$(find "$TMPD/notbtrfs/e1" -mindepth 1 ! -name lock)" "nothing written there"
else
	t_skip "job folder not on btrfs" "$TMPD is on btrfs"
fi

# ================================================================ missing remote_dir
cfg_job "$CONF" gone "$TMPD/no-such-dir" "type = rsync+btrfs+ssh"
# A first good backup of another source, so last_backup holds old data.
GCONF=$TMPD/gone-ok.ini
cfg_global "$GCONF"
cfg_job "$GCONF" gone "$SRC" "type = rsync+btrfs+ssh"
tb_run -c "$GCONF" -s gone backup
t_rc 0 "gone: a first good backup"
n0=$(snapshots "$BASE/gone" | wc -l)
wait_next_second
tb_run -c "$CONF" -s gone backup
t_rc 1 "missing remote_dir (exit 23, no source file): exit 1"
t_match "transferred nothing .*the source folder could not be read" "$T_ERR" "says the source could not be read"
t_eq "$n0" "$(snapshots "$BASE/gone" | wc -l)" "no snapshot of the stale working copy"
t_eq "ERROR|" "$(last_row gone status,backup_location)" "row ERROR without a location"
t_ok "the working copy still holds the previous data" tree_equal "$SRC" "$BASE/gone/last_backup"

# ================================================================ exit 24 (a file vanishes)
VSRC=$TMPD/vsrc
mkdir -p "$VSRC"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$VSRC/a_big"
printf 'soon gone\n' >"$VSRC/z_small"
cfg_job "$CONF" van "$VSRC" "type = rsync+btrfs+ssh" "bwlimit = 256"
"$TISBACKUP" -c "$CONF" -s van backup >"$TMPD/van.out" 2>"$TMPD/van.err" </dev/null &
VP=$!
tb_track $VP
big_started() {
	ls -A "$BASE/van/last_backup" 2>/dev/null | grep -q '^\.a_big\.'
}
if wait_until 60 big_started; then
	rm -f "$VSRC/z_small"
	wait $VP
	vrc=$?
	t_eq 0 "$vrc" "a file vanished during the transfer (exit 24): exit 0"
	t_match "WARNING .*some files vanished" "$(cat "$TMPD/van.err")" "with a warning"
	t_eq OK "$(last_row van status)" "row OK"
	t_eq 1 "$(snapshots "$BASE/van" | wc -l)" "and a snapshot"
else
	t_fail "exit 24: the transfer of a_big started" "$(cat "$TMPD/van.err")"
	kill "$VP" 2>/dev/null
	wait "$VP"
fi

# ================================================================ lock, then kill -9 during rsync
CSRC=$TMPD/csrc
mkdir -p "$CSRC"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$CSRC/big"
cfg_job "$CONF" crashy "$CSRC" "type = rsync+btrfs+ssh"
tb_run -c "$CONF" -s crashy backup
t_rc 0 "crashy: a first good backup"
K1=$(snapshots "$BASE/crashy" | tail -n 1)
# A new content of another size: rsync's quick check (size and mtime in
# seconds) must see the change even when this runs in the same second.
head -c $((3 * 1024 * 1024 + 4096)) /dev/urandom >"$CSRC/big"
SLOWCONF=$TMPD/slow.ini
cfg_global "$SLOWCONF"
cfg_job "$SLOWCONF" crashy "$CSRC" "type = rsync+btrfs+ssh" "bwlimit = 100"
running_rows() {
	csql "select count(*) from stats where backup_name='crashy' and status='Running'"
}
transferring() {
	[ "$(running_rows)" = 1 ] && ls -A "$BASE/crashy/last_backup" | grep -q '^\.big\.'
}
wait_next_second
"$TISBACKUP" -c "$SLOWCONF" -s crashy backup >"$TMPD/slow.out" 2>"$TMPD/slow.err" </dev/null &
P=$!
tb_track $P
if wait_until 60 transferring; then
	t_pass "slow run transferring into last_backup, Running row"
else
	t_fail "slow run transferring into last_backup, Running row" "$(cat "$TMPD/slow.err")"
fi
tb_run -c "$CONF" -s crashy backup
t_ne 0 "$T_RC" "a second run while one runs exits non-zero"
t_imatch 'already running' "$T_ERR" "and says 'already running'"
ROWID=$(csql "select rowid from stats where backup_name='crashy' and status='Running'")
kids=$(tb_descendants $P)
kill -9 $P
wait $P 2>/dev/null
# shellcheck disable=SC2086 # a list of pids
[ -n "$kids" ] && kill -9 $kids 2>/dev/null
t_eq "$K1" "$(snapshots "$BASE/crashy" | tail -n 1)" "killed run: no new snapshot"
t_eq Running "$(csql "select status from stats where rowid=$ROWID")" "killed run: its row is still Running"
tb_run -c "$CONF" -s crashy checknagios
t_match "^\\[crashy\\]:OK Backup crashy .*$(last_ok_end crashy)" "$T_OUT" \
	"checknagios meanwhile reports the previous good backup"
wait_next_second
tb_run -c "$CONF" -s crashy backup
t_rc 0 "the next run exits 0"
t_eq ERROR "$(csql "select status from stats where rowid=$ROWID")" "the dead run's row is now ERROR"
t_eq 0 "$(running_rows)" "no Running row remains"
K2=$(snapshots "$BASE/crashy" | tail -n 1)
t_ne "$K1" "$K2" "a new snapshot"
t_ok "it is complete" cmp "$CSRC/big" "$BASE/crashy/$K2/big"
t_eq "" "$(ls -A "$BASE/crashy/$K2" | grep -v '^big$')" "with no partial file of the killed run"
t_eq 0 "$(csql "select count(*) from stats where backup_name='crashy' and status='OK' and backup_location not in ('$BASE/crashy/$K1', '$BASE/crashy/$K2')")" \
	"no other snapshot counted good"

# ================================================================ checknagios, exportbackup
tb_run -c "$CONF" -s b1 checknagios
t_rc 0 "checknagios on a read-only snapshot: exit 0"
t_match '^\[b1\]:OK' "$T_OUT" "checknagios says OK"
EXP=$TMPD/export
mkdir -p "$EXP"
tb_run -c "$CONF" -s b1 -x "$EXP" exportbackup
t_rc 0 "exportbackup of a read-only snapshot: exit 0"
t_ok "the export equals the snapshot" tree_equal "$J/$S2" "$EXP/b1"

# ================================================================ register_existing
RJ=$BASE/reg
mkdir -p "$RJ"
btrfs subvolume create "$RJ/last_backup" >/dev/null
cp -a "$SRC/." "$RJ/last_backup/"
RS=$(day_stamp 2)
btrfs subvolume snapshot -r "$RJ/last_backup" "$RJ/$RS" >/dev/null
RP=$(day_stamp 3)
mkdir -p "$RJ/$RP"
cfg_job "$CONF" reg "$SRC" "type = rsync+btrfs+ssh"
tb_run -c "$CONF" -s reg register_existing
t_rc 0 "register_existing exits 0"
t_eq "OK|BACKUP" "$(csql "select status, TYPE from stats where backup_location='$RJ/$RS'")" \
	"the subvolume snapshot is registered as an OK BACKUP"
t_eq 0 "$(csql "select count(*) from stats where backup_location='$RJ/$RP'")" \
	"a plain folder named like a stamp is not"
t_eq 0 "$(csql "select count(*) from stats where backup_location like '%last_backup%'")" \
	"last_backup never is"

# ================================================================ cleanup
# Three read-only snapshots of b1 40 days old and a writable one holding
# a nested subvolume, with their rows, and one of a job whose only good
# backup is that old (kept: cleanup never leaves none).
OLD=()
for d in 40 41 42; do
	s=$(day_stamp $d)
	btrfs subvolume snapshot -r "$J/last_backup" "$J/$s" >/dev/null || t_bail "btrfs snapshot failed"
	OLD+=("$s")
	row b1 "$(day_iso $d)" OK "$J/$s" >/dev/null
done
# The original's writable snapshots could get a snapshot nested inside.
NS=$(day_stamp 43)
btrfs subvolume snapshot "$J/last_backup" "$J/$NS" >/dev/null || t_bail "btrfs snapshot failed"
btrfs subvolume create "$J/$NS/nested" >/dev/null || t_bail "btrfs subvolume create failed"
OLD+=("$NS")
row b1 "$(day_iso 43)" OK "$J/$NS" >/dev/null
LJ=$BASE/lone
cfg_job "$CONF" lone "$SRC" "type = rsync+btrfs+ssh"
mkdir -p "$LJ"
btrfs subvolume create "$LJ/last_backup" >/dev/null
LS=$(day_stamp 40)
btrfs subvolume snapshot -r "$LJ/last_backup" "$LJ/$LS" >/dev/null
row lone "$(day_iso 40)" OK "$LJ/$LS" >/dev/null

# Without CAP_SYS_ADMIN, deleting a subvolume is refused: the message says what to do.
T_RC=0
setpriv --bounding-set -sys_admin --inh-caps -sys_admin -- "$TISBACKUP" -c "$CONF" -s b1 cleanup \
	>"$TMPD/.out" 2>"$TMPD/.err" </dev/null || T_RC=$?
T_ERR=$(cat "$TMPD/.err")
t_ne 0 "$T_RC" "cleanup without CAP_SYS_ADMIN fails"
t_match "CAP_SYS_ADMIN .*user_subvol_rm_allowed" "$T_ERR" "and names CAP_SYS_ADMIN and user_subvol_rm_allowed"
t_ok "the snapshots are still there" test -d "$J/${OLD[0]}"
t_eq BACKUP "$(csql "select TYPE from stats where backup_location='$J/${OLD[0]}'")" "their rows stay BACKUP"

tb_run -c "$CONF" -s b1,lone cleanup
t_rc 0 "cleanup exits 0"
for s in "${OLD[@]}"; do
	t_ok "expired $s deleted" test ! -e "$J/$s"
	t_eq CLEAN "$(csql "select TYPE from stats where backup_location='$J/$s'")" "its row is CLEAN"
done
list=$(subvols)
t_nomatch "b1/($(
	IFS='|'
	echo "${OLD[*]}"
))" "$list" "btrfs subvolume list has no expired snapshot"
t_match "b1/$S2\$" "$list" "and still lists the recent snapshots"
t_ok "the recent snapshots are kept" test -d "$J/$S1" -a -d "$J/$S2"
t_ok "the working copy is kept" subvol "$J/last_backup"
t_ok "the only good backup of lone is kept" subvol "$LJ/$LS"
t_match "\[lone\] nothing removed: no recent good backup" "$T_ERR" "cleanup says why"

# ================================================================ disk usage from qgroups
# A job of its own; quotas off: its btrfs snapshots are not measured (no
# rows), as before. Quotas on: each snapshot's unique bytes are its
# qgroup's exclusive bytes, as `btrfs qgroup show --raw` prints them; a
# 4 MiB file held by one snapshot only is at least its unique bytes.
# Inconsistent qgroups: no rows, and the log says why.
QSRC=$TMPD/qsrc
QJ=$BASE/q1
mkdir -p "$QSRC"
printf 'small\n' >"$QSRC/small.txt"
head -c 1048576 /dev/urandom >"$QSRC/shared" # in every snapshot
cfg_job "$CONF" q1 "$QSRC" "type = rsync+btrfs+ssh"
# du_row SNAPSHOT COLUMNS: q1's disk_usage row of SNAPSHOT ('' for the job).
du_row() {
	csql "select $2 from disk_usage where backup_name='q1' and snapshot='$1'"
}
# qg_excl PATH: the exclusive bytes btrfs prints for PATH's qgroup 0/ID.
qg_excl() {
	local id
	id=$(btrfs inspect-internal rootid "$1") || return 1
	btrfs filesystem sync "$MNT" >/dev/null
	btrfs qgroup show --raw "$MNT" 2>/dev/null | awk -v q="0/$id" '$1 == q {print $3}'
}
qg_rfer() {
	local id
	id=$(btrfs inspect-internal rootid "$1") || return 1
	btrfs qgroup show --raw "$MNT" 2>/dev/null | awk -v q="0/$id" '$1 == q {print $2}'
}
head -c 4194304 /dev/urandom >"$QSRC/u1"
tb_run -c "$CONF" -s q1 backup
t_rc 0 "q1: backup with quotas off exits 0"
Q1=$(snapshots "$QJ" | tail -n 1)
t_eq 0 "$(csql "select count(*) from disk_usage where backup_name='q1'")" \
	"quotas off: btrfs snapshots are not measured (no rows, as before)"
t_nomatch "read from btrfs qgroups|not measured" "$T_ERR" "quotas off: nothing said"

btrfs quota enable "$MNT" || t_bail "btrfs quota enable failed"
btrfs quota rescan -w "$MNT" >/dev/null || t_bail "btrfs quota rescan failed"
rm "$QSRC/u1"
head -c 4194304 /dev/urandom >"$QSRC/u2"
wait_next_second
tb_run -c "$CONF" -s q1 backup
t_rc 0 "q1: second backup (quotas on) exits 0"
Q2=$(snapshots "$QJ" | tail -n 1)
rm "$QSRC/u2"
wait_next_second
tb_run -c "$CONF" -s q1 backup
t_rc 0 "q1: third backup exits 0"
Q3=$(snapshots "$QJ" | tail -n 1)
t_match "\[q1\] disk usage: 3 snapshots read from btrfs qgroups in" "$T_ERR" \
	"the backup logs the figures read from qgroups"
t_eq 4 "$(csql "select count(*) from disk_usage where backup_name='q1'")" \
	"a row per snapshot and the job's"
for s in "$Q1" "$Q2" "$Q3"; do
	t_eq "$(qg_excl "$QJ/$s")" "$(du_row "$s" unique_bytes)" \
		"$s: unique bytes = exclusive bytes of btrfs qgroup show"
	t_eq "$(qg_rfer "$QJ/$s")" "$(du_row "$s" disk_bytes)" "$s: disk bytes = referenced bytes"
done
for s in "$Q1" "$Q2"; do
	u=$(du_row "$s" unique_bytes)
	if [ "$u" -ge 4194304 ] && [ "$u" -le $((4194304 + 1048576)) ]; then
		t_pass "$s: unique bytes near the 4 MiB file only it holds (the walk's figure)"
	else
		t_fail "$s: unique bytes near the 4 MiB file only it holds" "$u"
	fi
done
t_ok "$Q3: shares its data with last_backup (less than 1 MiB unique)" \
	test "$(du_row "$Q3" unique_bytes)" -lt 1048576
t_eq $(($(du_row "$Q3" disk_bytes) + $(du_row "$Q1" unique_bytes) + $(du_row "$Q2" unique_bytes))) \
	"$(du_row "" unique_disk_bytes)" "job total = newest referenced + older exclusive"

# Assigning a snapshot that shares extents (the file shared) to a level-1
# qgroup without a rescan marks the qgroups inconsistent.
btrfs qgroup create 1/100 "$MNT" || t_bail "btrfs qgroup create failed"
btrfs qgroup assign --no-rescan "0/$(btrfs inspect-internal rootid "$QJ/$Q3")" 1/100 "$MNT" 2>/dev/null
t_match "inconsistent" "$(btrfs qgroup show "$MNT" 2>&1)" "btrfs says the qgroups are inconsistent"
wait_next_second
tb_run -c "$CONF" -s q1 backup
t_rc 0 "q1: a backup with inconsistent qgroups exits 0"
t_match "\[q1\] disk usage of its btrfs snapshots not measured: the btrfs qgroups are marked inconsistent: run .btrfs quota rescan -w." \
	"$T_ERR" "inconsistent qgroups: the log says why"
t_eq 1 "$(grep -c "not measured" <<<"$T_ERR")" "once"
t_eq 0 "$(csql "select count(*) from disk_usage where backup_name='q1'")" \
	"inconsistent qgroups: no figures kept"
btrfs quota rescan -w "$MNT" >/dev/null
wait_next_second
tb_run -c "$CONF" -s q1 backup
t_match "disk usage: 5 snapshots read from btrfs qgroups" "$T_ERR" "after a rescan: measured again"
btrfs quota disable "$MNT"

# ================================================================ rsync daemon flavour
RSYNCD_DIR=$TMPD/rsyncd
mkdir -p "$RSYNCD_DIR"
chmod 700 "$RSYNCD_DIR"
PW="tbpw-${TB_ID}-$RANDOM$RANDOM"
printf 'tbuser:%s\n' "$PW" >"$RSYNCD_DIR/secrets"
printf '%s\n' "$PW" >"$TMPD/rsync.pw"
chmod 600 "$RSYNCD_DIR/secrets" "$TMPD/rsync.pw"
cat >"$RSYNCD_DIR/rsyncd.conf" <<EOF
pid file = $RSYNCD_DIR/rsyncd.pid
log file = $RSYNCD_DIR/rsyncd.log
[mod]
	path = $SRC
	auth users = tbuser
	secrets file = $RSYNCD_DIR/secrets
	read only = yes
	use chroot = no
	uid = root
	gid = root
EOF
rsyncd_start "$RSYNCD_DIR/rsyncd.conf" || t_bail "could not start rsync --daemon"
job_section "$CONF" d1 "type = rsync+btrfs" "server_name = 127.0.0.1" "remote_user = tbuser" \
	"rsync_module = mod" "remote_dir = /" "rsync_port = $RSYNCD_PORT" "password_file = $TMPD/rsync.pw"
tb_run -c "$CONF" -s d1 backup
t_rc 0 "rsync+btrfs from a daemon: exit 0"
D1=$(snapshots "$BASE/d1" | tail -n 1)
t_eq true "$(ro "$BASE/d1/$D1")" "a read-only snapshot"
t_ok "equal to the module" tree_equal "$SRC" "$BASE/d1/$D1"
t_match "^ssh\+rsync\+btrfs backup from tbuser@127\.0\.0\.1::mod/ OK, [0-9]+ bytes written for [0-9]+ changed files$" \
	"$(last_row d1 log)" "the same log words as the ssh flavour"

t_done
