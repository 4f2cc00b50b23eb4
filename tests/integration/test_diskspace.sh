#!/usr/bin/env bash
#
# The backup filesystem's space and inodes, on a tmpfs of known size
# mounted as backup_base_dir and filled to about 75 %: checknagios'
# performance data ('backup_fs_free' equal to df's Avail in bytes,
# 'backup_fs_used' df's Use%, 'backup_fs_free_inodes' df's IAvail), its
# verdict against [global] disk_warn_percent / disk_crit_percent (off when
# unset, WARNING, CRITICAL, exit codes, the summary naming the "backup
# filesystem"), dumpstat's closing line, /metrics'
# tisbackup_filesystem_*_bytes gauges and the "filesystem" object of GET
# /api/v1/jobs, each compared with df(1) on the same mount; a bad limit is
# a configuration error.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require df curl mount umount sqlite3
tb_tmp
[ "$(id -u)" = 0 ] || t_bail "needs root (mounts a tmpfs)"

MNT=$TMPD/fs
mkdir -p "$MNT"
mount -t tmpfs -o size=8m,nr_inodes=2000 tb-test "$MNT" || t_bail "cannot mount a tmpfs on $MNT"
_umount() {
	local st=$?
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	(exit "$st")
	_tb_cleanup
}
trap _umount EXIT
BASE=$MNT
CATALOG=$BASE/log/tisbackup.sqlite
mkdir -p "$BASE/log"
sqlite3 -batch "$CATALOG" "create table stats (backup_name TEXT, server_name TEXT, description TEXT,
  backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT,
  written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT,
  backup_location TEXT, TYPE TEXT);" || t_bail "cannot create the catalog"
head -c $((6 * 1024 * 1024)) /dev/zero >"$BASE/filler"
for i in $(seq 1 100); do : >"$BASE/f$i"; done

write_conf() {
	cfg_global "$CONF" "$@"
	cfg_null "$CONF" alpha
	cfg_null "$CONF" beta
}
df_field() { df -B1 --output="$1" "$MNT" | tail -n 1 | tr -d ' %'; }
AVAIL=$(df_field avail)
PCENT=$(df_field pcent)
IFREE=$(df_field iavail)
t_diag "df: avail $AVAIL B, use $PCENT %, ifree $IFREE"

# ---------------------------------------------------------------- checknagios
write_conf
tb_run -c "$CONF" checknagios
t_rc 0 "without limits, null jobs: checknagios OK"
first=$(printf '%s\n' "$T_OUT" | head -n 1)
t_match "^ALL backups OK " "$first" "the summary is the original's"
t_match "'backup_fs_free'=${AVAIL}B;;;0;[0-9]+" "$first" "perfdata: free bytes equal df's Avail"
USED=$(printf '%s\n' "$first" | sed -nE "s/.*'backup_fs_used'=([0-9.]+)%.*/\1/p")
t_eq "$(awk "BEGIN{v=$USED; print (v > $PCENT - 1 && v <= $PCENT) ? 1 : 0}")" 1 \
	"perfdata: used percent $USED is df's Use% $PCENT (df rounds up)"
t_match "'backup_fs_free_inodes'=${IFREE};;;0;2000" "$first" "perfdata: free inodes equal df's IAvail"
t_nomatch 'backup filesystem' "$(printf '%s\n' "$T_OUT" | tail -n +2)" "no filesystem verdict line without limits"

write_conf "disk_warn_percent = 50" "disk_crit_percent = 95"
tb_run -c "$CONF" checknagios
t_rc 1 "above disk_warn_percent: WARNING, exit 1"
t_match '^WARNING backups backup filesystem \(tisbackup' "$(printf '%s\n' "$T_OUT" | head -n 1)" \
	"the summary names the backup filesystem"
t_match "^\[backup filesystem\]:WARNING : $MNT is [0-9.]+ % full" "$T_OUT" "a verdict line for it"
t_match "'backup_fs_used'=[0-9.]+%;50;95;0;100" "$T_OUT" "the limits are in the perfdata"

write_conf "disk_warn_percent = 50" "disk_crit_percent = 70"
tb_run -c "$CONF" checknagios
t_rc 2 "above disk_crit_percent: CRITICAL, exit 2"
t_match "^\[backup filesystem\]:CRITICAL : " "$T_OUT" "the line says CRITICAL"

write_conf "disk_warn_percent = 90"
tb_run -c "$CONF" checknagios
t_rc 0 "below the limit: OK"
t_match "^\[backup filesystem\]:OK : " "$T_OUT" "the line says OK"

# ---------------------------------------------------------------- dumpstat
tb_run -c "$CONF" dumpstat
t_rc 0 "dumpstat exits 0"
t_match "^backup filesystem $MNT: .* used of .* \(.* %\), .* free, $IFREE of 2000 inodes free$" \
	"$(printf '%s\n' "$T_OUT" | tail -n 1)" "dumpstat ends with the filesystem line"

# ---------------------------------------------------------------- web
web_config web.metrics_public=yes
web_user admin admin 'secret-pass-1'
web_start
web_login admin 'secret-pass-1' "$TMPD/jar"
# serve writes its own files (queue, sessions) on the filesystem too: the
# figures are compared with df read just before and just after each request.
one_of() { # one_of VALUE A B: VALUE is A or B
	[ "$1" = "$2" ] || [ "$1" = "$3" ]
}
A1=$(df_field avail) I1=$(df_field iavail)
M=$(curl -s "$WEB/metrics")
A2=$(df_field avail) I2=$(df_field iavail)
v=$(printf '%s\n' "$M" | sed -nE "s|^tisbackup_filesystem_free_bytes\{path=\"$MNT\"\} ([0-9]+)$|\1|p")
t_ok "/metrics: free bytes $v equal df's Avail ($A1 / $A2)" one_of "$v" "$A1" "$A2"
t_match "^tisbackup_filesystem_size_bytes\{path=\"$MNT\"\} $(df_field size)$" "$M" "/metrics: size equals df's Size"
v=$(printf '%s\n' "$M" | sed -nE "s|^tisbackup_filesystem_free_inodes\{path=\"$MNT\"\} ([0-9]+)$|\1|p")
t_ok "/metrics: free inodes $v equal df's IAvail ($I1 / $I2)" one_of "$v" "$I1" "$I2"
A1=$(df_field avail)
R=$(curl -s -b "$TMPD/jar" "$WEB/api/v1/jobs")
A2=$(df_field avail)
v=$(printf '%s' "$R" | jq_py 'd["filesystem"]["free_bytes"]')
t_ok "GET /api/v1/jobs: filesystem.free_bytes $v equals df's Avail ($A1 / $A2)" one_of "$v" "$A1" "$A2"
t_eq 90 "$(printf '%s' "$R" | jq_py 'd["filesystem"]["warn_percent"]')" "GET /api/v1/jobs: the warning limit"
t_eq null "$(printf '%s' "$R" | jq_py 'd["filesystem"]["crit_percent"]')" "GET /api/v1/jobs: no critical limit"
web_stop

# ---------------------------------------------------------------- bad values
write_conf "disk_warn_percent = most"
tb_run -c "$CONF" checknagios
t_rc 3 "a bad disk_warn_percent is a configuration error"
t_match 'tisbackup.ini:[0-9]+: \[global\] disk_warn_percent: ' "$T_OUT$T_ERR" "naming file:line, section and key"

t_done
