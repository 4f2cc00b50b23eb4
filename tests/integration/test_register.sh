#!/usr/bin/env bash
#
# register_existing: snapshot folders found on disk that the catalog lacks
# get an OK BACKUP row (start from the name, end from the folder's mtime
# when later, total_bytes equal to `du -sb`, total_files_count the regular
# files); unfinished STAMP.rsync folders, other names, files and symlinks
# named like stamps, and already registered snapshots (by a real backup or
# a row of any kind) get none; a second run adds nothing; a dry run writes
# nothing; checknagios and dumpstat see the registered backups.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen du cp
tb_tmp
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
mkdir -p "$SRC/many"
for i in $(seq 1 200); do printf '%*d\n' "$i" "$i" >"$SRC/many/f$i"; done

cfg_global "$CONF"
cfg_job "$CONF" srv "$SRC"
cfg_job "$CONF" lost "$SRC"
cfg_null "$CONF" nothing

# ================================================================ a real backup, then the catalog lost track
tb_run -c "$CONF" -s srv backup
t_rc 0 "a real backup of srv"
REAL=$(snapshots "$BASE/srv" | tail -n 1)
[ -n "$REAL" ] || t_bail "no snapshot: $T_ERR"

# 30 snapshots of lost, a day apart, the newest an hour ago, sharing
# inodes like rsync --link-dest chains do. Each folder's mtime is 10 min
# after its start, except one (older than its start: end = start).
NOW=$(date +%s)
declare -a NAMES STARTS
prev=$BASE/srv/$REAL
mkdir -p "$BASE/lost"
for ((i = 29; i >= 0; i--)); do
	t=$((NOW - 3600 - i * 86400))
	name=$(date -d "@$t" +%Y%m%d-%Hh%Mm%S)
	cp -al "$prev" "$BASE/lost/$name" || t_bail "cp -al failed"
	# Each snapshot differs a little from the previous one.
	printf 'day %d\n' "$i" >"$BASE/lost/$name/day.txt.$i"
	prev=$BASE/lost/$name
	NAMES[i]=$name
	STARTS[i]=$t
done
for ((i = 0; i < 30; i++)); do
	if [ $i -eq 5 ]; then
		touch -d "@$((STARTS[i] - 86400))" "$BASE/lost/${NAMES[i]}"
	else
		touch -d "@$((STARTS[i] + 600))" "$BASE/lost/${NAMES[i]}"
	fi
done
NEWEST=${NAMES[0]}
OLDEST=${NAMES[29]}

# Look-alikes that are not finished snapshots.
UNFINISHED=$(date -d "@$NOW" +%Y%m%d-%Hh%Mm%S).rsync
cp -al "$BASE/lost/$NEWEST" "$BASE/lost/$UNFINISHED"
mkdir -p "$BASE/lost/not-a-backup" "$BASE/lost/20261301-99h99m99"
printf 'x\n' >"$BASE/lost/20200101-00h00m00"
ln -s "$BASE/lost/$OLDEST" "$BASE/lost/20200102-00h00m00"
mkdir -p "$BASE/lost/20200103-00h00m00-copy"

# One of them is already known, through a row of another kind.
csql "insert into stats (backup_name,server_name,description,backup_start,backup_end,status,log,backup_location,TYPE)
 values ('lost','127.0.0.1','','2001-01-01T00:00:00','2001-01-01T00:00:00','OK','pre-existing row','$BASE/lost/$OLDEST','BACKUP')" ||
	t_bail "sqlite3 insert failed"
ROWS_BEFORE=$(csql "select count(*) from stats")

tb_run -c "$CONF" -s lost checknagios
t_rc 2 "before: checknagios finds no recent backup of lost"

# ================================================================ dry run
nlogs=$(log_count)
SUM=$(md5sum <"$CATALOG")
tb_run -c "$CONF" -d register_existing
t_rc 0 "dry run: exit 0"
t_eq "$ROWS_BEFORE" "$(csql "select count(*) from stats")" "dry run: no row written"
t_eq "$SUM" "$(md5sum <"$CATALOG")" "dry run: catalog file unchanged"
t_eq "$nlogs" "$(log_count)" "dry run: no run log"
t_eq 29 "$(printf '%s\n' "$T_ERR" | grep -c "\[lost\] dry run: would register $BASE/lost/")" \
	"dry run: lists the 29 snapshots it would register"
t_match "\[lost\] 29 backup\(s\) would be registered" "$T_ERR" "dry run: a count per job"
t_match "\[srv\] 0 backup\(s\) would be registered" "$T_ERR" "dry run: srv has nothing to register"
t_nomatch "would register .*($UNFINISHED|not-a-backup|20200101|20200102|$OLDEST)" "$T_ERR" \
	"dry run: look-alikes and the known snapshot are not listed"
t_ok "dry run: no lock file left" test ! -e "$BASE/lost/lock"

# Dry run on a tree that has no catalog at all: every snapshot would be registered.
mkdir -p "$TMPD/other/lost"
cp -al "$BASE/lost/$NEWEST" "$TMPD/other/lost/$NEWEST"
tb_run -c "$CONF" -b "$TMPD/other" -s lost -d register_existing
t_rc 0 "dry run without a catalog: exit 0"
t_match "\[lost\] 1 backup\(s\) would be registered" "$T_ERR" "dry run without a catalog: lists the snapshot"
t_ok "dry run without a catalog: creates no catalog" test ! -e "$TMPD/other/log"

# ================================================================ register
tb_run -c "$CONF" register_existing
t_rc 0 "register_existing: exit 0"
t_match "\[lost\] 29 backup\(s\) registered" "$T_ERR" "logs the count for lost"
t_match "\[srv\] 0 backup\(s\) registered" "$T_ERR" "logs the count for srv"
t_nomatch '\[nothing\]' "$T_ERR" "the null job is not scanned"
t_eq $((ROWS_BEFORE + 29)) "$(csql "select count(*) from stats")" "29 rows added"
t_eq 30 "$(csql "select count(*) from stats where backup_name='lost'")" "lost has 30 rows"
t_eq 1 "$(csql "select count(*) from stats where backup_name='srv'")" "srv's real backup is not duplicated"
t_eq "pre-existing row" "$(csql "select group_concat(log) from stats where backup_location='$BASE/lost/$OLDEST'")" \
	"the already known snapshot keeps its one row"
t_eq 0 "$(csql "select count(*) from stats where backup_location like '%.rsync' or backup_location like '%not-a-backup%' or backup_location like '%/2020010%' or backup_location like '%/20261301%'")" \
	"no row for STAMP.rsync, other names, a stamp-named file or symlink"
t_ok "no lock file left" test ! -e "$BASE/lost/lock"

bad=
for ((i = 0; i < 29; i++)); do
	n=${NAMES[i]}
	loc=$BASE/lost/$n
	row=$(csql "select backup_start, backup_end, printf('%.4f', backup_duration), total_bytes, total_files_count,
	  ifnull(written_bytes,'NULL'), ifnull(written_files_count,'NULL'), status, TYPE, server_name, log
	  from stats where backup_location='$loc'")
	start=$(date -d "@${STARTS[i]}" +%Y-%m-%dT%H:%M:%S).000000
	if [ $i -eq 5 ]; then
		end=$start dur=0.0000
	else
		end=$(date -d "@$((STARTS[i] + 600))" +%Y-%m-%dT%H:%M:%S).000000 dur=0.1667
	fi
	bytes=$(du -sb "$loc" | cut -f1)
	files=$(find "$loc" -type f -printf x | wc -c)
	want="$start|$end|$dur|$bytes|$files|NULL|NULL|OK|BACKUP|127.0.0.1|registered by register_existing (found on disk)"
	if [ "$row" != "$want" ]; then
		bad+="$n: want '$want'"$'\n'"$n:  got '$row'"$'\n'
	fi
done
t_eq "" "$bad" "each row: start from the name, end from the mtime, du -sb bytes, file count, OK BACKUP"
t_eq "$(csql "select group_concat(backup_location, ' ') from (select backup_location from stats where backup_name='lost' and log like 'registered%' order by rowid)")" \
	"$(for ((i = 28; i >= 0; i--)); do printf '%s ' "$BASE/lost/${NAMES[i]}"; done | sed 's/ $//')" \
	"rows inserted oldest first"

# ================================================================ again: nothing new
ROWS=$(csql "select count(*) from stats")
tb_run -c "$CONF" register_existing
t_rc 0 "second run: exit 0"
t_eq "$ROWS" "$(csql "select count(*) from stats")" "second run: no new row"
t_match "\[lost\] 0 backup\(s\) registered" "$T_ERR" "second run: logs 0 for lost"
t_match "\[lost\] 30 backup\(s\) already registered" "$T_ERR" "second run: says they are known"

# ================================================================ what the other actions see
tb_run -c "$CONF" -s lost checknagios
t_rc 0 "checknagios: lost is OK now"
NEWEST_END=$(date -d "@$((STARTS[0] + 600))" "+%Y-%m-%d %H:%M:%S")
t_match "^\[lost\]:OK Backup lost \($NEWEST_END" "$T_OUT" "checknagios: reports the newest registered snapshot"

tb_run -c "$CONF" -s lost -n 40 dumpstat
t_rc 0 "dumpstat: exit 0"
t_eq 30 "$(printf '%s\n' "$T_OUT" | grep -c "$BASE/lost/")" "dumpstat: shows the 30 rows of lost"
t_match "^lost +127\.0\.0\.1 .*$(date -d "@${STARTS[0]}" '+%Y-%m-%d %H:%M') " "$(printf '%s\n' "$T_OUT" | sed -n 3p)" \
	"dumpstat: newest first, with its start time"

# ================================================================ a busy job is left alone
exec 9>"$BASE/lost/lock"
flock -n 9 || t_bail "cannot take the lock"
cp -al "$BASE/lost/$NEWEST" "$BASE/lost/$(date -d "@$((NOW - 60))" +%Y%m%d-%Hh%Mm%S)"
ROWS=$(csql "select count(*) from stats")
tb_run -c "$CONF" -s lost register_existing
t_rc 1 "while a backup holds the lock: exit 1"
t_match "\[lost\] register_existing: .*a backup is running" "$T_ERR" "while locked: says a backup is running"
t_eq "$ROWS" "$(csql "select count(*) from stats")" "while locked: no row written"
exec 9>&-
tb_run -c "$CONF" -s lost register_existing
t_rc 0 "once the lock is free: exit 0"
t_match "\[lost\] 1 backup\(s\) registered" "$T_ERR" "once the lock is free: the new snapshot is registered"

t_done
