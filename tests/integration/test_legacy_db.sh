#!/usr/bin/env bash
#
# Catalogs written by the original TISBackup: the exact schema, timestamps
# with and without microseconds, NULL counters on ERROR rows, and a very
# old database without the TYPE column, which is upgraded in place without
# touching the existing rows.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

# What the original creates (tisbackup's BackupStat.initdb()).
SCHEMA_FULL="CREATE TABLE stats (
    backup_name TEXT,
    server_name TEXT,
    description TEXT,
    backup_start TEXT,
    backup_end TEXT,
    backup_duration NUMERIC,
    total_files_count INT,
    written_files_count INT,
    total_bytes INT,
    written_bytes INT,
    status TEXT,
    log TEXT,
    backup_location TEXT,
    TYPE TEXT);
create index idx_stats_backup_name on stats(backup_name);
create index idx_stats_backup_location on stats(backup_location);
CREATE INDEX idx_stats_backup_name_start on stats(backup_name,backup_start);"
# A very old install: no TYPE column, no (name, start) index.
SCHEMA_OLD="CREATE TABLE stats (
    backup_name TEXT,
    server_name TEXT,
    description TEXT,
    backup_start TEXT,
    backup_end TEXT,
    backup_duration NUMERIC,
    total_files_count INT,
    written_files_count INT,
    total_bytes INT,
    written_bytes INT,
    status TEXT,
    log TEXT,
    backup_location TEXT);
create index idx_stats_backup_name on stats(backup_name);
create index idx_stats_backup_location on stats(backup_location);"

# Times relative to now, as the original writes them (isoformat(): no
# fraction when the microseconds are 0).
R1_START=$(iso_ago 93600)            # 26 h ago, no microseconds
R1_END=$(iso_ago 93000)              # 10 min later
R2_START=$(iso_ago 7200 123456)      # 2 h ago
R2_END=$(iso_ago 6600 654321)
R3_START=$(iso_ago 180000 5)         # 50 h ago, ERROR
R3_END=$(iso_ago 179990 500000)
OLD_START=$(iso_ago 259200 250000)   # 3 days ago
OLD_END=$(iso_ago 258000 750000)
stamp_of() { # ISO -> YYYYMMDD-HHhMMmSS
	local s=$1
	echo "${s:0:4}${s:5:2}${s:8:2}-${s:11:2}h${s:14:2}m${s:17:2}"
}
short() { # ISO -> "YYYY-MM-DD HH:MM"
	echo "${1:0:10} ${1:11:5}"
}

# fill_db DB BASEDIR WITH_TYPE: the rows an original install would hold.
fill_db() {
	local db=$1 base=$2 with_type=$3 t1="" t2="" l1 l2 lo
	l1=$base/legacy1/$(stamp_of "$R1_START")
	l2=$base/legacy1/$(stamp_of "$R2_START")
	lo=$base/legacy2/$(stamp_of "$OLD_START")
	mkdir -p "$l1" "$l2" "$lo" "$base/log"
	echo data >"$l2/file"
	if [ "$with_type" = 1 ]; then t1=",TYPE"; t2=",'BACKUP'"; fi
	sqlite3 "$db" "$( [ "$with_type" = 1 ] && echo "$SCHEMA_FULL" || echo "$SCHEMA_OLD")
insert into stats (backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location$t1)
 values ('legacy1','srv-legacy','legacy server','$R3_START','$R3_END',0.002777777777777778,NULL,NULL,NULL,NULL,'ERROR','rsync error: some files could not be transferred (code 23)',NULL$t2);
insert into stats (backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location$t1)
 values ('legacy1','srv-legacy','legacy server','$R1_START','$R1_END',0.16666666666666666,12345,1234,20457718,1048576,'OK','ssh+rsync backup from /srv OK, 1048576 bytes written for 1234 changed files','$l1'$t2);
insert into stats (backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location$t1)
 values ('legacy1','srv-legacy','legacy server','$R2_START','$R2_END',0.16666,1234567,0,1536,0,'OK','ssh+rsync backup from /srv OK, 0 bytes written for 0 changed files','$l2'$t2);
insert into stats (backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location$t1)
 values ('legacy2','srv-old','','$OLD_START','$OLD_END',0.33,10,10,5368709120,5368709120,'OK','ssh+rsync backup from /old OK','$lo'$t2);"
}

# Everything but TYPE, in rowid order: what must not change.
dump_rows() {
	sql "$1" "select rowid,backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location from stats order by rowid"
}

mkconf() { # FILE BASE
	local f=$1
	BASE=$2
	cfg_global "$f"
	cfg_job "$f" legacy1 /srv "maximum_backup_age = 30"
	cfg_job "$f" legacy2 /old "maximum_backup_age = 30"
	cfg_job "$f" fresh "$TMPD/src"
	cfg_null "$f" nothing
}

mkdir -p "$TMPD/src"
printf 'x\n' >"$TMPD/src/x"

# check_dumpstat LABEL: the legacy1 table of the last tb_run.
check_dumpstat() {
	local l=$1 rows
	t_rc 0 "$l: dumpstat exits 0"
	rows=$(printf '%s\n' "$T_OUT" | grep -E '(^|[ |])legacy1([ |]|$)' | grep -v backup_name)
	t_eq 3 "$(printf '%s' "$rows" | grep -c .)" "$l: dumpstat shows the 3 legacy1 rows"
	t_match "$(short "$R2_START")" "$(printf '%s\n' "$rows" | sed -n 1p)" "$l: newest row first, time as YYYY-MM-DD HH:MM"
	t_match "$(short "$R1_START")" "$(printf '%s\n' "$rows" | sed -n 2p)" "$l: a start without microseconds is shown"
	t_match "$(short "$R3_START")" "$(printf '%s\n' "$rows" | sed -n 3p)" "$l: the ERROR row is shown last"
	t_match '19\.51M' "$rows" "$l: 20457718 bytes shown as 19.51M"
	t_match '1\.50K' "$rows" "$l: 1536 bytes shown as 1.50K"
	t_match '1\.00M' "$rows" "$l: 1048576 bytes shown as 1.00M"
	t_match '12 345' "$rows" "$l: 12345 files shown as '12 345'"
	t_match '1 234 567' "$rows" "$l: 1234567 files shown as '1 234 567'"
	t_match '00:10' "$rows" "$l: 0.1666 h shown as 00:10"
	t_match 'ERROR' "$rows" "$l: the ERROR row with NULL counters is shown"
	t_match 'backup_name' "$T_OUT" "$l: the header names the columns"
}

# ================================================================ current schema
B1=$TMPD/base1
C1=$TMPD/c1.ini
mkconf "$C1" "$B1"
DB1=$B1/log/tisbackup.sqlite
mkdir -p "$B1/log"
fill_db "$DB1" "$B1" 1
before=$(dump_rows "$DB1")

tb_run -c "$C1" -s legacy1 dumpstat
check_dumpstat "original db"
tb_run -c "$C1" -s legacy1 -n 2 dumpstat
t_eq 2 "$(printf '%s\n' "$T_OUT" | grep -E '(^|[ |])legacy1([ |]|$)' | grep -vc backup_name)" \
	"original db: dumpstat -n 2 shows 2 rows"

tb_run -c "$C1" -s legacy1 checknagios
t_rc 0 "original db: checknagios OK for a recent OK row (exit 0)"
t_match '^ALL backups OK' "$T_OUT" "original db: summary ALL backups OK"
t_match "^\[legacy1\]:OK Backup legacy1 \(" "$T_OUT" "original db: [legacy1]:OK Backup legacy1 (...)"
tb_run -c "$C1" -s legacy1,legacy2 checknagios
t_rc 2 "original db: an old backup makes checknagios CRITICAL (exit 2)"
t_match '^\[legacy2\]:CRITICAL : No recent backup for legacy2' "$T_OUT" "original db: legacy2 has no recent backup"
t_eq "$before" "$(dump_rows "$DB1")" "original db: reading changes no row"

# A new run appends to the old catalog and leaves the old rows alone.
tb_run -c "$C1" -s fresh backup
t_rc 0 "original db: a backup into the old catalog exits 0"
t_eq "$before" "$(dump_rows "$DB1" | head -n 4)" "original db: the old rows are unchanged"
t_eq "fresh|OK|BACKUP" "$(sql "$DB1" "select backup_name,status,TYPE from stats where rowid=5")" \
	"original db: the new row is appended"
t_eq 'backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location,TYPE' \
	"$(sql "$DB1" "select group_concat(name, ',') from pragma_table_info('stats')")" \
	"original db: the columns are unchanged"
t_eq 0 "$(sql "$DB1" "select count(*) from stats where backup_start not like '____-__-__T__:__:__%'")" \
	"original db: every start is an ISO timestamp"

# ================================================================ no TYPE column
B2=$TMPD/base2
C2=$TMPD/c2.ini
mkconf "$C2" "$TMPD/not-this-one"   # -b must win over backup_base_dir
DB2=$B2/log/tisbackup.sqlite
mkdir -p "$B2/log"
fill_db "$DB2" "$B2" 0
before=$(dump_rows "$DB2")
t_eq "" "$(sql "$DB2" "select name from pragma_table_info('stats') where name='TYPE'")" \
	"old db: starts without a TYPE column"

tb_run -c "$C2" -b "$B2" -s legacy1 dumpstat
check_dumpstat "old db"
tb_run -c "$C2" -b "$B2" -s legacy1 checknagios
t_rc 0 "old db: checknagios OK for a recent OK row (exit 0)"
t_match "^\[legacy1\]:OK Backup legacy1 \(" "$T_OUT" "old db: [legacy1]:OK Backup legacy1 (...)"
t_ok "old db: -b overrides backup_base_dir" test ! -e "$TMPD/not-this-one/log/tisbackup.sqlite"

tb_run -c "$C2" -b "$B2" -s fresh backup
t_rc 0 "old db: a backup exits 0"
t_eq TYPE "$(sql "$DB2" "select name from pragma_table_info('stats') where name='TYPE'")" \
	"old db: upgraded with a TYPE column"
t_eq "BACKUP|BACKUP|BACKUP|BACKUP" "$(sql "$DB2" "select group_concat(TYPE, '|') from (select TYPE from stats where rowid<=4 order by rowid)")" \
	"old db: the existing rows got TYPE BACKUP"
t_eq "$before" "$(dump_rows "$DB2" | head -n 4)" "old db: the existing rows are otherwise unchanged"
t_eq "fresh|OK|BACKUP" "$(sql "$DB2" "select backup_name,status,TYPE from stats where rowid=5")" \
	"old db: the new row is there"
t_ok "old db: the snapshot went under -b" test -n "$(snapshots "$B2/fresh")"
tb_run -c "$C2" -b "$B2" -s legacy1 checknagios
t_rc 0 "old db: checknagios still OK after the upgrade"

# ================================================================ dumpstat order
# The original orders dumpstat by backup_end: a long run that started
# first but ended last is listed first.
LONG_START=$(iso_ago 36000)   # 10 h ago, ended 1 h ago
LONG_END=$(iso_ago 3600)
SHORT_START=$(iso_ago 18000)  # 5 h ago, ended 4 h ago
SHORT_END=$(iso_ago 14400)
sql "$DB1" "insert into stats (backup_name,server_name,backup_start,backup_end,backup_duration,status,log,TYPE)
 values ('legacy2','srv-old','$LONG_START','$LONG_END',9,'OK','long run','BACKUP'),
        ('legacy2','srv-old','$SHORT_START','$SHORT_END',1,'OK','short run','BACKUP')" >/dev/null
tb_run -c "$C1" -s legacy2 dumpstat
rows=$(printf '%s\n' "$T_OUT" | grep -E '(^|[ |])legacy2([ |]|$)' | grep -v backup_name)
t_match "$(short "$LONG_START")" "$(printf '%s\n' "$rows" | sed -n 1p)" \
	"dumpstat: newest end first (the run that ended last, though it started first)"
t_match "$(short "$SHORT_START")" "$(printf '%s\n' "$rows" | sed -n 2p)" "dumpstat: then the one that ended before it"

t_done
