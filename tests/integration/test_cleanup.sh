#!/usr/bin/env bash
#
# cleanup (SPEC §6) with the real binary, on a catalog built with the
# sqlite3 CLI and snapshot folders made on disk:
#   - expired rows (folders, a file, a trailing slash, one already gone)
#     are removed and marked CLEAN; rows at or after the cutoff, rows
#     without a location and EXPORT rows are left alone; hardlinked data
#     shared with a kept snapshot survives;
#   - an unrecorded STAMP.rsync older than the cutoff is removed, a fresh
#     one is not, and neither while a backup of the job holds its lock;
#   - locations outside the job folder (elsewhere, `..`, a symlinked
#     folder, relative, the job folder itself, another job's snapshot) are
#     never touched and keep their row; a location that is itself a symlink
#     loses the link only;
#   - no removal at all when no recent good backup exists: only expired
#     ones, a recent one missing from disk, a recent one that is a partial
#     transfer;
#   - a dry run changes nothing; null jobs are skipped;
#   - a job folder on a filesystem remounted read-only: errors, exit 1,
#     its rows stay BACKUP, the other jobs are still cleaned;
#   - a full filesystem under backup_base_dir: the run log is skipped with
#     a warning and the cleanup completes.

# shellcheck disable=SC2034 # row ids are read back through ${!name}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3
tb_tmp

# ---------------------------------------------------------------- helpers

# day_iso DAYS_AGO [HH:MM:SS]: a catalog timestamp, local time.
day_iso() {
	date -d "$(date -d "-$1 days" +%F) ${2:-12:00:00}" +%Y-%m-%dT%H:%M:%S.123456
}

# day_stamp DAYS_AGO [HH:MM:SS]: a snapshot name.
day_stamp() {
	date -d "$(date -d "-$1 days" +%F) ${2:-12:00:00}" +%Y%m%d-%Hh%Mm%S
}

# mkcatalog FILE: the original's schema, empty, in WAL mode.
mkcatalog() {
	mkdir -p "$(dirname "$1")"
	sql "$1" "create table stats (backup_name TEXT, server_name TEXT, description TEXT,
	  backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT,
	  written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT,
	  backup_location TEXT, TYPE TEXT);
	  create index idx_stats_backup_name on stats(backup_name);
	  create index idx_stats_backup_location on stats(backup_location);
	  create index idx_stats_backup_name_start on stats(backup_name, backup_start);
	  pragma journal_mode=WAL;" >/dev/null || t_bail "cannot create the catalog $1"
}

# row DB JOB START STATUS LOCATION [LOG] [TYPE]: insert a row, print its rowid.
# LOCATION "-" stores NULL.
row() {
	local db=$1 job=$2 start=$3 status=$4 loc=$5 log=${6:-ssh+rsync backup OK} type=${7:-BACKUP}
	local locsql="'${loc//\'/\'\'}'"
	[ "$loc" = - ] && locsql=NULL
	sql "$db" "insert into stats (backup_name, server_name, description, backup_start,
	  backup_end, backup_duration, total_files_count, written_files_count, total_bytes,
	  written_bytes, status, log, backup_location, TYPE) values ('$job', 'srv', '',
	  '$start', '$start', 0.1, 10, 10, 1000, 1000, '$status', '${log//\'/\'\'}', $locsql,
	  '$type'); select last_insert_rowid();" || t_bail "insert failed"
}

# rtype DB ROWID: the TYPE of a row.
rtype() {
	sql "$1" "select TYPE from stats where rowid = $2"
}

# mksnap DIR: a small snapshot tree (nested folders, a read-only folder,
# a symlink, a hardlink).
mksnap() {
	mkdir -p "$1/etc/sub" "$1/var/ro"
	printf 'conf\n' >"$1/etc/app.conf"
	printf 'deep\n' >"$1/etc/sub/deep"
	printf 'ro\n' >"$1/var/ro/file"
	chmod 0555 "$1/var/ro"
	ln -s /etc/hostname "$1/abs_link"
	ln "$1/etc/app.conf" "$1/etc/app.conf.hl"
}

# state: the rows' TYPEs and every path under the given folders, to
# compare before and after a dry run.
state() {
	sql "$CATALOG" "select rowid, TYPE from stats order by rowid"
	find "$@" -path "$BASE/log" -prune -o -print 2>/dev/null | LC_ALL=C sort
}

# ---------------------------------------------------------------- config and data

cfg_global "$CONF"
for j in main unsafe onlyold gonegood partial busy other; do
	cfg_job "$CONF" "$j" /srv "backup_retention_time = 5"
done
cfg_null "$CONF" nulljob
mkcatalog "$CATALOG"
CUTDAY=$(date -d "-5 days" +%F)

# -- main: the ordinary case
J=$BASE/main
F1=$J/$(day_stamp 1)
B5=$J/$(day_stamp 5 00:00:00)
E1=$J/$(day_stamp 10)
E2=$J/$(day_stamp 8).rsync
E3=$J/main-$(day_stamp 7).xva
E4=$J/$(day_stamp 6 23:59:59)
E5=$J/$(day_stamp 9 03:00:00)
E6=$J/$(day_stamp 9)
O_OLD=$J/$(day_stamp 12).rsync
O_NEW=$J/$(day_stamp 1 01:00:00).rsync
O_FILE=$J/$(day_stamp 14).rsync
P_OLD=$J/$(day_stamp 13).partial        # a dump driver's unfinished folder
P_NEW=$J/$(day_stamp 1 02:00:00).partial
mksnap "$F1"
mksnap "$B5"
mksnap "$E1"
ln "$F1/etc/sub/deep" "$E1/shared_with_fresh"
mksnap "$E2"
printf 'xva\n' >"$E3"
mksnap "$E4"
mksnap "$E6"
mksnap "$O_OLD"
mksnap "$O_NEW"
mksnap "$P_OLD"
mksnap "$P_NEW"
printf 'not a folder\n' >"$O_FILE"
mkdir -p "$J/notes"
mkdir -p "$TMPD/export/main"
r_e1=$(row "$CATALOG" main "$(day_iso 10)" OK "$E1")
r_e2=$(row "$CATALOG" main "$(day_iso 8)" ERROR "$E2" "rsync failed (exit code 12)")
r_e3=$(row "$CATALOG" main "$(day_iso 7)" OK "$E3")
r_e4=$(row "$CATALOG" main "$(day_iso 6 23:59:59)" OK "$E4")
r_e5=$(row "$CATALOG" main "$(day_iso 9 03:00:00)" OK "$E5")
r_e6=$(row "$CATALOG" main "$(day_iso 9)" OK "$E6/")
r_n1=$(row "$CATALOG" main "$(day_iso 9 04:00:00)" ERROR - "connection refused")
r_x1=$(row "$CATALOG" main "$(day_iso 10 05:00:00)" OK "$TMPD/export/main" "export" EXPORT)
r_b5=$(row "$CATALOG" main "$(day_iso 5 00:00:00 | cut -d. -f1)" OK "$B5")
r_f1=$(row "$CATALOG" main "$(day_iso 1)" OK "$F1")

# -- unsafe: locations outside the job folder
J=$BASE/unsafe
OUT=$TMPD/outside
mkdir -p "$OUT/victim1" "$OUT/victim3" "$OUT/victim4" "$BASE/elsewhere/victim2" "$J/victim5"
for v in "$OUT/victim1" "$OUT/victim3" "$OUT/victim4" "$BASE/elsewhere/victim2" "$J/victim5"; do
	printf 'precious\n' >"$v/precious"
done
ln -s "$OUT" "$J/escape"
U4=$J/$(day_stamp 10 01:00:00)
ln -s "$OUT/victim4" "$U4"
UF=$J/$(day_stamp 1)
mksnap "$UF"
r_u1=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "$OUT/victim1")
r_u2=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "$J/../elsewhere/victim2")
r_u3=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "$J/escape/victim3")
r_u4=$(row "$CATALOG" unsafe "$(day_iso 10 01:00:00)" OK "$U4")
r_u5=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "victim5")
r_u6=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "$J")
r_u7=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "$J/.")
r_u8=$(row "$CATALOG" unsafe "$(day_iso 10)" OK "$F1")
r_uf=$(row "$CATALOG" unsafe "$(day_iso 1)" OK "$UF")

# -- onlyold: the only good backup is expired (a recent one failed)
J=$BASE/onlyold
mksnap "$J/$(day_stamp 10)"
mksnap "$J/$(day_stamp 8)"
mksnap "$J/$(day_stamp 1).rsync"
r_oo1=$(row "$CATALOG" onlyold "$(day_iso 10)" OK "$J/$(day_stamp 10)")
r_oo2=$(row "$CATALOG" onlyold "$(day_iso 8)" OK "$J/$(day_stamp 8)")
row "$CATALOG" onlyold "$(day_iso 1)" ERROR "$J/$(day_stamp 1).rsync" "rsync failed" >/dev/null

# -- gonegood: the recent good backup is missing from disk
J=$BASE/gonegood
mksnap "$J/$(day_stamp 10)"
r_gg1=$(row "$CATALOG" gonegood "$(day_iso 10)" OK "$J/$(day_stamp 10)")
row "$CATALOG" gonegood "$(day_iso 1)" OK "$J/$(day_stamp 1)" >/dev/null

# -- partial: the newest recent OK row is a partial transfer
J=$BASE/partial
mksnap "$J/$(day_stamp 10)"
mksnap "$J/$(day_stamp 1)"
mksnap "$J/$(day_stamp 12).rsync"
r_pa1=$(row "$CATALOG" partial "$(day_iso 10)" OK "$J/$(day_stamp 10)")
row "$CATALOG" partial "$(day_iso 1)" OK "$J/$(day_stamp 1)" \
	"ssh+rsync backup from srv:/srv/ OK, 10 bytes written for 1 changed files (partial transfer)" >/dev/null

# -- busy: a backup holds the job's lock
J=$BASE/busy
mksnap "$J/$(day_stamp 1)"
mksnap "$J/$(day_stamp 12).rsync"
row "$CATALOG" busy "$(day_iso 1)" OK "$J/$(day_stamp 1)" >/dev/null

nlogs=$(log_count)

# ================================================================ dry run
before=$(state "$BASE" "$OUT" "$TMPD/export")
tb_run -c "$CONF" -d cleanup
t_rc 0 "dry run: exit 0"
t_match "\[main\] dry run: would remove $E1\$" "$T_ERR" "dry run: lists an expired snapshot"
t_match "\[main\] dry run: would remove $O_OLD \(unfinished, unrecorded\)" "$T_ERR" \
	"dry run: lists the unrecorded .rsync folder"
t_match "\[main\] would remove 6 backups and 2 unfinished folders older than $CUTDAY, kept 2" \
	"$T_ERR" "dry run: the summary says what would go"
t_eq "$before" "$(state "$BASE" "$OUT" "$TMPD/export")" "dry run: no file and no row changed"
t_eq "$nlogs" "$(log_count)" "dry run: no run log written"

# ================================================================ the real run
exec 9>"$BASE/busy/lock"
flock -x 9 || t_bail "cannot lock $BASE/busy/lock"
tb_run -c "$CONF" -s main,unsafe,onlyold,gonegood,partial,busy,nulljob cleanup
exec 9>&-
t_rc 0 "cleanup: exit 0 (warnings are not failures)"
t_eq $((nlogs + 1)) "$(log_count)" "cleanup writes a run log"
t_match "$LOG_RE\[main\] removed 6 backups and 2 unfinished folders older than $CUTDAY, kept 2\$" \
	"$T_ERR" "main: summary line"

# -- main
for v in E1 E2 E3 E4 E6 O_OLD; do
	t_ok "main: $v removed from disk" test ! -e "${!v}"
done
t_ok "main: a row exactly at the cutoff is kept" test -d "$B5/etc/sub"
t_ok "main: the fresh snapshot is kept" test -d "$F1/etc/sub"
t_eq "deep" "$(cat "$F1/etc/sub/deep" 2>&1)" "main: data hardlinked with an expired snapshot survives"
t_eq "1" "$(stat -c %h "$F1/etc/sub/deep")" "main: its extra link is gone"
t_ok "main: the fresh unrecorded .rsync is kept" test -d "$O_NEW"
t_not "main: the expired unrecorded .partial (dump driver) is removed" test -e "$P_OLD"
t_ok "main: the fresh unrecorded .partial is kept" test -d "$P_NEW"
t_ok "main: a file shaped like an .rsync folder is kept" test -f "$O_FILE"
t_ok "main: an unrelated folder is kept" test -d "$BASE/main/notes"
for r in r_e1 r_e2 r_e3 r_e4 r_e5 r_e6; do
	t_eq CLEAN "$(rtype "$CATALOG" "${!r}")" "main: row $r marked CLEAN"
done
t_eq BACKUP "$(rtype "$CATALOG" "$r_b5")" "main: the row at the cutoff stays BACKUP"
t_eq BACKUP "$(rtype "$CATALOG" "$r_f1")" "main: the fresh row stays BACKUP"
t_eq BACKUP "$(rtype "$CATALOG" "$r_n1")" "main: a row without location is left alone"
t_eq EXPORT "$(rtype "$CATALOG" "$r_x1")" "main: an EXPORT row is left alone"
t_ok "main: the export folder is left alone" test -d "$TMPD/export/main"
t_match "\[main\] $E5 is already gone from disk: marking it CLEAN" "$T_ERR" \
	"main: a missing location is reported and marked CLEAN"
t_match "\[main\] removed $E1\$" "$T_ERR" "main: each removal is logged"

# -- unsafe
for v in "$OUT/victim1" "$BASE/elsewhere/victim2" "$OUT/victim3" "$OUT/victim4" "$BASE/unsafe/victim5"; do
	t_eq precious "$(cat "$v/precious" 2>&1)" "unsafe: ${v#"$TMPD"/} untouched"
done
t_ok "unsafe: the job folder itself survives" test -d "$BASE/unsafe/escape"
t_ok "unsafe: another job's snapshot survives" test -d "$F1/etc"
for r in r_u1 r_u2 r_u3 r_u5 r_u6 r_u7 r_u8; do
	t_eq BACKUP "$(rtype "$CATALOG" "${!r}")" "unsafe: row $r is not marked CLEAN"
done
t_ok "unsafe: a location that is a symlink: the link is removed" test ! -L "$U4"
t_eq CLEAN "$(rtype "$CATALOG" "$r_u4")" "unsafe: ... and its row marked CLEAN"
t_eq BACKUP "$(rtype "$CATALOG" "$r_uf")" "unsafe: the fresh row stays BACKUP"
t_match "WARNING \[unsafe\] $OUT/victim1 is not inside the job folder $BASE/unsafe" "$T_ERR" \
	"unsafe: warning for an absolute path elsewhere"
t_match "WARNING \[unsafe\] $BASE/unsafe/\.\./elsewhere/victim2 is not inside the job folder .*resolves to $BASE/elsewhere/victim2" \
	"$T_ERR" "unsafe: warning for a '..' escape, naming where it resolves"
t_match "WARNING \[unsafe\] $BASE/unsafe/escape/victim3 is not inside the job folder .*resolves to $OUT/victim3" \
	"$T_ERR" "unsafe: warning for a symlinked folder"
t_match "WARNING \[unsafe\] victim5 is not inside the job folder .*not an absolute path" "$T_ERR" \
	"unsafe: warning for a relative location"
t_match "WARNING \[unsafe\] $BASE/unsafe is not inside the job folder .*it is the job folder itself" \
	"$T_ERR" "unsafe: warning for the job folder itself"
t_match "INFO \[unsafe\] removed $U4 \(a symlink: its target is left alone\)" "$T_ERR" \
	"unsafe: the symlink removal says so"
t_eq 7 "$(printf '%s\n' "$T_ERR" | grep -c 'WARNING \[unsafe\] .* is not inside the job folder')" \
	"unsafe: one warning per outside location"
t_match "\[unsafe\] removed 1 backup older than $CUTDAY, kept 8\$" "$T_ERR" "unsafe: summary line"

# -- no recent good backup
for r in r_oo1 r_oo2; do
	t_eq BACKUP "$(rtype "$CATALOG" "${!r}")" "onlyold: row $r stays BACKUP"
done
t_ok "onlyold: the expired snapshots stay" test -d "$BASE/onlyold/$(day_stamp 10)/etc" -a -d "$BASE/onlyold/$(day_stamp 8)/etc"
t_match "WARNING \[onlyold\] nothing removed: no recent good backup exists" "$T_ERR" \
	"onlyold: warning names the job and why nothing was removed"
t_eq BACKUP "$(rtype "$CATALOG" "$r_gg1")" "gonegood: the expired row stays BACKUP"
t_ok "gonegood: the expired snapshot stays" test -d "$BASE/gonegood/$(day_stamp 10)/etc"
t_match "WARNING \[gonegood\] nothing removed: no recent good backup exists .*missing from disk" "$T_ERR" \
	"gonegood: warning says the recent backup is missing"
t_eq BACKUP "$(rtype "$CATALOG" "$r_pa1")" "partial: the expired row stays BACKUP"
t_ok "partial: the expired snapshot stays" test -d "$BASE/partial/$(day_stamp 10)/etc"
t_ok "partial: the unrecorded .rsync stays" test -d "$BASE/partial/$(day_stamp 12).rsync"
t_match "WARNING \[partial\] nothing removed: no recent good backup exists \(only partial transfers since $CUTDAY\)" "$T_ERR" \
	"partial: a partial transfer does not count as the good backup"

# -- busy, null
t_ok "busy: the unrecorded .rsync of a running job stays" test -d "$BASE/busy/$(day_stamp 12).rsync"
t_match "\[busy\] a backup is running: unfinished folders are left alone" "$T_ERR" \
	"busy: says why"
t_match "\[nulljob\] type null: no backups to clean" "$T_ERR" "null job: skipped"
t_match "Cleanup processed : main,unsafe,onlyold,gonegood,partial,busy\$" "$T_ERR" \
	"final line lists the processed jobs"
t_match "removed 6 backups" "$(cat "$BASE"/log/tisbackup_*.log)" "the run log has the summary"

# -- again: nothing left to do
tb_run -c "$CONF" -s main cleanup
t_rc 0 "second cleanup: exit 0"
t_match "\[main\] nothing older than $CUTDAY to remove" "$T_ERR" "second cleanup: nothing to remove"

# ================================================================ overlapping a kept backup
J=$BASE/overlap
OF=$J/$(day_stamp 1)
mksnap "$OF"
mksnap "$J/$(day_stamp 10)"
cfg_job "$CONF" overlap /srv "backup_retention_time = 5"
row "$CATALOG" overlap "$(day_iso 1)" OK "$OF" >/dev/null
r_ov1=$(row "$CATALOG" overlap "$(day_iso 10)" OK "$OF")
r_ov2=$(row "$CATALOG" overlap "$(day_iso 9)" OK "$OF/etc")
r_ov3=$(row "$CATALOG" overlap "$(day_iso 11)" OK "$J/$(day_stamp 10)")
r_ov4=$(row "$CATALOG" overlap "$(day_iso 12)" OK "$J/$(day_stamp 10)")
tb_run -c "$CONF" -s overlap cleanup
t_rc 0 "overlap: exit 0"
t_ok "overlap: the kept snapshot is whole" test -f "$OF/etc/sub/deep"
t_eq "BACKUP BACKUP" "$(rtype "$CATALOG" "$r_ov1") $(rtype "$CATALOG" "$r_ov2")" \
	"overlap: expired rows naming the kept snapshot or a part of it stay BACKUP"
t_eq 2 "$(printf '%s\n' "$T_ERR" | grep -c 'WARNING \[overlap\] .* overlaps a backup newer than the cutoff')" \
	"overlap: one warning each"
t_ok "overlap: a folder two expired rows name is removed" test ! -e "$J/$(day_stamp 10)"
t_eq "CLEAN CLEAN" "$(rtype "$CATALOG" "$r_ov3") $(rtype "$CATALOG" "$r_ov4")" \
	"overlap: ... and both rows are CLEAN"

# ================================================================ a mount point as location
J=$BASE/mntjob
MP=$J/$(day_stamp 10)
mkdir -p "$MP"
mksnap "$J/$(day_stamp 1)"
if ! mount -t tmpfs -o size=1m tb-cleanup-test "$MP" 2>/dev/null; then
	t_skip "mount point as location" "cannot mount a tmpfs here"
else
	tb_track_mount "$MP"
	printf 'precious\n' >"$MP/precious"
	cfg_job "$CONF" mntjob /srv "backup_retention_time = 5"
	r_mp=$(row "$CATALOG" mntjob "$(day_iso 10)" OK "$MP")
	row "$CATALOG" mntjob "$(day_iso 1)" OK "$J/$(day_stamp 1)" >/dev/null
	tb_run -c "$CONF" -s mntjob cleanup
	t_rc 0 "mount point: exit 0"
	t_eq precious "$(cat "$MP/precious" 2>&1)" "mount point: the mounted filesystem is not emptied"
	t_eq BACKUP "$(rtype "$CATALOG" "$r_mp")" "mount point: its row is kept"
	t_match "WARNING \[mntjob\] $MP is a mount point \(another filesystem\): left alone" "$T_ERR" \
		"mount point: a warning says why"
	umount "$MP"
fi

# ================================================================ read-only filesystem
if ! command -v mkfs.ext4 >/dev/null || ! loop_mount "$TMPD/ro.img" "$BASE/rojob" 16; then
	t_skip "read-only filesystem" "cannot loop-mount an ext4 image here"
else
	cfg_job "$CONF" rojob /srv "backup_retention_time = 5"
	J=$BASE/rojob
	R1=$J/$(day_stamp 10)
	R2=$J/rojob-$(day_stamp 9).xva
	R3=$J/$(day_stamp 8)
	RF=$J/$(day_stamp 1)
	mksnap "$R1"
	printf 'xva\n' >"$R2"
	mksnap "$RF"
	r_r1=$(row "$CATALOG" rojob "$(day_iso 10)" OK "$R1")
	r_r2=$(row "$CATALOG" rojob "$(day_iso 9)" OK "$R2")
	r_r3=$(row "$CATALOG" rojob "$(day_iso 8)" OK "$R3")
	row "$CATALOG" rojob "$(day_iso 1)" OK "$RF" >/dev/null
	J=$BASE/other
	mksnap "$J/$(day_stamp 10)"
	mksnap "$J/$(day_stamp 1)"
	r_ot1=$(row "$CATALOG" other "$(day_iso 10)" OK "$J/$(day_stamp 10)")
	row "$CATALOG" other "$(day_iso 1)" OK "$J/$(day_stamp 1)" >/dev/null
	mount -o remount,ro "$BASE/rojob" || t_bail "remount read-only failed"

	tb_run -c "$CONF" -s rojob,other cleanup
	t_rc 1 "read-only: exit 1"
	t_match "ERROR \[rojob\] cannot remove $R1: .*Read-only file system" "$T_ERR" \
		"read-only: the folder's error is reported"
	t_match "ERROR \[rojob\] cannot remove $R2: .*Read-only file system" "$T_ERR" \
		"read-only: the file's error is reported"
	t_ok "read-only: the folder is still there" test -d "$R1/etc"
	t_eq BACKUP "$(rtype "$CATALOG" "$r_r1")" "read-only: its row is not CLEAN"
	t_eq BACKUP "$(rtype "$CATALOG" "$r_r2")" "read-only: the file's row is not CLEAN"
	t_eq CLEAN "$(rtype "$CATALOG" "$r_r3")" "read-only: a location already gone is CLEAN"
	t_match "ERROR \[rojob\] cleanup finished with errors: removed 1 backup older than $CUTDAY, kept 3, 2 could not be removed" \
		"$T_ERR" "read-only: the job's summary counts the failures"
	t_ok "read-only: the other job is still cleaned" test ! -e "$BASE/other/$(day_stamp 10)"
	t_eq CLEAN "$(rtype "$CATALOG" "$r_ot1")" "read-only: the other job's row is CLEAN"
	t_match "Cleanup processed with errors: rojob\$" "$T_ERR" "read-only: final line names the failed job"
fi

# ================================================================ full filesystem
FULL=$TMPD/full
if ! command -v mkfs.ext4 >/dev/null || ! command -v setpriv >/dev/null ||
	! loop_mount "$TMPD/full.img" "$FULL" 16; then
	t_skip "full filesystem" "cannot loop-mount an ext4 image here"
else
	BASE2=$FULL/base
	CAT2=$BASE2/log/tisbackup.sqlite
	CONF2=$TMPD/full.ini
	cat >"$CONF2" <<EOF
[global]
backup_base_dir = $BASE2
backup_retention_time = 5
maximum_backup_age = 30

EOF
	cfg_job "$CONF2" fulljob /srv
	cfg_job "$CONF2" fullroot /srv
	mkcatalog "$CAT2"
	for j in fulljob fullroot; do
		mksnap "$BASE2/$j/$(day_stamp 10)"
		head -c 2000000 /dev/urandom >"$BASE2/$j/$(day_stamp 10)/big"
		mksnap "$BASE2/$j/$(day_stamp 1)"
		row "$CAT2" "$j" "$(day_iso 1)" OK "$BASE2/$j/$(day_stamp 1)" >/dev/null
	done
	r_fu=$(row "$CAT2" fulljob "$(day_iso 10)" OK "$BASE2/fulljob/$(day_stamp 10)")
	r_fr=$(row "$CAT2" fullroot "$(day_iso 10)" OK "$BASE2/fullroot/$(day_stamp 10)")

	# Full as df(1) says: an ordinary user filled it; root's reserve is left.
	mkdir -p "$FULL/user" && chown 65534:65534 "$FULL/user"
	for bs in 64k 1k; do
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			dd if=/dev/zero of="$FULL/user/fill$bs" bs=$bs 2>/dev/null
	done
	t_eq 0 "$(df --output=avail "$FULL" | tail -n 1 | tr -d ' ')" "full: no space left for users"
	tb_run -c "$CONF2" -s fulljob cleanup
	t_rc 0 "full: cleanup completes (exit 0)"
	t_match "WARNING cleanup: the disk holding $BASE2/log is full: file logging skipped" "$T_ERR" \
		"full: a warning says file logging is skipped"
	t_ok "full: the expired snapshot is removed" test ! -e "$BASE2/fulljob/$(day_stamp 10)"
	t_eq CLEAN "$(rtype "$CAT2" "$r_fu")" "full: its row is CLEAN"
	t_match "\[fulljob\] removed 1 backup older than" "$T_ERR" "full: the summary is on stderr"
	logs=$(cat "$BASE2"/log/tisbackup_*.log 2>/dev/null)
	t_eq "" "$logs" "full: nothing was written to a run log"

	# Full for root too: SQLite cannot even grow its side files. Cleanup
	# plans read-only, removes, then records. catalog.c reads the catalog
	# as immutable when the WAL index cannot grow (SQLITE_IOERR).
	dd if=/dev/zero of="$FULL/rootfill" bs=64k 2>/dev/null
	dd if=/dev/zero of="$FULL/rootfill2" bs=1k 2>/dev/null
	tb_run -c "$CONF2" -s fullroot cleanup
	t_rc 0 "full for root: cleanup completes (exit 0)"
	t_check "full for root: the expired snapshot is removed" \
		"$([ ! -e "$BASE2/fullroot/$(day_stamp 10)" ]; echo $?)"
	t_eq CLEAN "$(rtype "$CAT2" "$r_fr" 2>/dev/null)" "full for root: its row is CLEAN"
	rm -f "$FULL/rootfill" "$FULL/rootfill2"
fi

t_done
