#!/usr/bin/env bash
#
# checknagios after real backups: the original's messages, the summary
# line with performance data, line order (critical, warning, ok), exit
# codes, and no run log written.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SRC=$TMPD/src
mkdir -p "$SRC/d"
printf 'one\n' >"$SRC/a"
printf 'two\n' >"$SRC/d/b"
cfg_global "$CONF"
cfg_job "$CONF" srv1 "$SRC"
cfg_null "$CONF" n
cfg_job "$CONF" norow "$SRC"
cfg_job "$CONF" old "$SRC" "maximum_backup_age = 30"
cfg_job "$CONF" running "$SRC"
cfg_job "$CONF" empty "$SRC"

tb_run -c "$CONF" -s srv1 backup
t_rc 0 "a real backup of srv1"
S1=$(snapshots "$BASE/srv1" | tail -n 1)
[ -n "$S1" ] || t_bail "no snapshot: $T_ERR"
nlogs=$(log_count)

# ================================================================ all OK
tb_run -c "$CONF" -s srv1,n checknagios
t_rc 0 "checknagios exit 0 when all OK"
first=$(printf '%s\n' "$T_OUT" | head -n 1)
t_match '^ALL backups OK' "$first" "first line starts 'ALL backups OK'"
t_match '^ALL backups OK srv1,n' "$first" "summary lists the jobs"
t_match '\(tisbackup V[0-9]' "$first" "summary has '(tisbackup V<version>)'"
t_match "\|.*'srv1_age'=[0-9]+s" "$first" "performance data: 'srv1_age'=Ns after '|'"
t_match "^\[srv1\]:OK Backup srv1 \(" "$T_OUT" "[srv1]:OK Backup srv1 (...)"
t_match '^\[n\]:No backups needs to be performed$' "$T_OUT" "[n]:No backups needs to be performed"
t_eq 3 "$(printf '%s\n' "$T_OUT" | grep -c .)" "summary plus one line per job"

tb_run -c "$CONF" -s n checknagios
t_rc 0 "a null job alone is OK"
t_match '^\[n\]:No backups needs to be performed$' "$T_OUT" "null job message"

# ================================================================ no row
tb_run -c "$CONF" -s norow checknagios
t_rc 2 "a job with no row: exit 2"
t_match '^CRITICAL backups norow' "$T_OUT" "summary 'CRITICAL backups norow'"
t_match '^\[norow\]:CRITICAL : No backup found for norow in database$' "$T_OUT" \
	"CRITICAL : No backup found for norow in database"

# ================================================================ old backup
OLDS=$(iso_ago 259200 100000)
OLDE=$(iso_ago 259000 200000)
csql "insert into stats (backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location,TYPE)
 select 'old',server_name,description,'$OLDS','$OLDE',backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location,TYPE
 from stats where backup_name='srv1' and status='OK'" || t_bail "sqlite3 insert failed"
tb_run -c "$CONF" -s old checknagios
t_rc 2 "a 3-day-old backup with maximum_backup_age=30: exit 2"
t_match '^\[old\]:CRITICAL : No recent backup for old' "$T_OUT" "CRITICAL : No recent backup for old"

# ================================================================ running
csql "insert into stats (backup_name,server_name,description,backup_start,status,TYPE)
 values ('running','127.0.0.1','','$(iso_ago 300 0)','Running','BACKUP')" || t_bail "sqlite3 insert failed"
tb_run -c "$CONF" -s running checknagios
t_rc 1 "a recent Running row: exit 1"
t_match '^WARNING backups running' "$T_OUT" "summary 'WARNING backups running'"
t_match '^\[running\]:WARNING : Backup running still running or warning' "$T_OUT" \
	"WARNING : Backup running still running or warning"

# ================================================================ no data
csql "insert into stats (backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location,TYPE)
 values ('empty','127.0.0.1','','$(iso_ago 600 1)','$(iso_ago 590 2)',0.003,0,0,0,0,'OK','nothing','$BASE/srv1/$S1','BACKUP')"
tb_run -c "$CONF" -s empty checknagios
t_rc 1 "an OK row with 0 bytes: exit 1"
t_match '^\[empty\]:WARNING : No data to backup was found for empty' "$T_OUT" "WARNING : No data to backup was found"

# ================================================================ everything together: order
tb_run -c "$CONF" checknagios
t_rc 2 "all jobs: exit 2 (worst is CRITICAL)"
t_match '^CRITICAL backups ' "$(printf '%s\n' "$T_OUT" | head -n 1)" "all jobs: summary is CRITICAL"
crit=$(printf '%s\n' "$T_OUT" | head -n 1 | sed -E 's/^CRITICAL backups ([^ |]*).*/\1/')
t_eq "norow,old" "$crit" "all jobs: the summary names the critical jobs"
states=$(printf '%s\n' "$T_OUT" | tail -n +2 | sed -E 's/^\[[^]]*\]:(CRITICAL|WARNING|OK|No backups).*/\1/')
t_eq "CRITICAL
CRITICAL
WARNING
WARNING
OK
No backups" "$states" "all jobs: critical lines, then warnings, then OK"
t_match '^\[norow\]:' "$(printf '%s\n' "$T_OUT" | sed -n 2p)" "all jobs: critical lines in config order"

# ================================================================ snapshot gone
rm -rf "${BASE:?}/srv1/$S1"
tb_run -c "$CONF" -s srv1 checknagios
t_rc 2 "snapshot removed: exit 2"
t_match '^CRITICAL backups srv1' "$T_OUT" "snapshot removed: 'CRITICAL backups srv1'"
t_match '^\[srv1\]:CRITICAL.*has disapeared from backup location' "$T_OUT" \
	"snapshot removed: 'has disapeared from backup location'"

# ================================================================ no side effects
t_eq "$nlogs" "$(log_count)" "checknagios wrote no run log"
t_eq "" "$(printf '%s' "$T_ERR" | grep -v '^$')" "checknagios writes nothing on stderr"
tb_run -c "$CONF" -s n -b "$TMPD/nowhere" checknagios
t_ok "checknagios on a missing backup dir creates nothing" test ! -e "$TMPD/nowhere/log"

t_done
