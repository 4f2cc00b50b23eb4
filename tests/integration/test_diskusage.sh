#!/usr/bin/env bash
#
# Disk usage per snapshot and per job against du(1) on the same trees: a
# history of four hardlinked snapshots made with cp -al (each changing a
# few files), then real rsync+ssh backups. After each run every
# snapshot's figures in the catalog's disk_usage table equal `du -sb -l`
# (bytes), `du -sB1 -l` (allocated), and its unique bytes equal `du -sbc
# ALL` minus `du -sbc ALL-BUT-IT`; the job's total equals `du -sbc ALL`
# (each inode once). The first backup measures every snapshot; the second
# walks only the new snapshot and the one before it (the older rows keep
# their measure time); cleanup drops the removed snapshots' rows and the
# figures stay exact. Then /metrics (tisbackup_job_disk_bytes), GET
# /api/v1/storage[/NAME], dumpstat's line, and checknagios' forecast
# verdict over a synthetic history of daily samples
# (disk_forecast_warn_days).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require sqlite3 rsync du curl
tb_tmp
sshd_start

J=$BASE/src1
SRC=$TMPD/src
mkdir -p "$SRC/a/b" "$SRC/c" "$J" "$BASE/log"
for i in $(seq 1 30); do head -c $((i * 1531)) /dev/urandom >"$SRC/a/f$i"; done
for i in $(seq 1 10); do printf 'small %s\n' "$i" >"$SRC/a/b/s$i"; done
head -c 300000 /dev/urandom >"$SRC/c/big"
ln -s a/f1 "$SRC/link"

cfg_global "$CONF"
cfg_job "$CONF" src1 "$SRC/" "backup_retention_time = 3"

sql "$CATALOG" "create table stats (backup_name TEXT, server_name TEXT, description TEXT,
  backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT,
  written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT,
  backup_location TEXT, TYPE TEXT);" || t_bail "cannot create the catalog"

# ---------------------------------------------------------------- history
# Four snapshots 10..7 days old, each a hardlinked copy of the one before
# with a few files replaced (new inodes) and one added.
prev=
for d in 10 9 8 7; do
	s=$(date -d "$d days ago" +%Y%m%d-%Hh%Mm%S)
	iso=$(date -d "$d days ago" +%Y-%m-%dT%H:%M:%S.000000)
	if [ -z "$prev" ]; then
		cp -a "$SRC" "$J/$s"
	else
		cp -al "$J/$prev" "$J/$s"
		rm "$J/$s/a/f$d"
		head -c $((d * 4099)) /dev/urandom >"$J/$s/a/f$d"
		head -c $((d * 777)) /dev/urandom >"$J/$s/new$d"
	fi
	sql "$CATALOG" "insert into stats values ('src1', '127.0.0.1', '', '$iso', '$iso', 0.01,
	  1, 1, 1, 1, 'OK', 'rsync backup OK', '$J/$s', 'BACKUP')"
	prev=$s
done

# ---------------------------------------------------------------- checks

# du_total OPTS DIR...: the last line (total) of du -s -c OPTS DIR...
du_total() {
	local opts=$1
	shift
	if [ $# = 0 ]; then
		echo 0
		return
	fi
	# shellcheck disable=SC2086
	du -s -c $opts "$@" | tail -n 1 | cut -f 1
}

# check_all WHEN: every snapshot row and the job row against du.
check_all() {
	local when=$1 s others rows n_rows
	mapfile -t SNAPS < <(snapshots "$J")
	rows=$(csql "select count(*) from disk_usage where backup_name='src1' and snapshot != ''")
	t_eq "$rows" "${#SNAPS[@]}" "$when: one disk_usage row per snapshot on disk (${#SNAPS[@]})"
	local bad=0 all=()
	for s in "${SNAPS[@]}"; do all+=("$J/$s"); done
	for s in "${SNAPS[@]}"; do
		others=()
		for o in "${SNAPS[@]}"; do [ "$o" = "$s" ] || others+=("$J/$o"); done
		local want_b want_d want_u want_ud got
		want_b=$(du -sb -l "$J/$s" | cut -f 1)
		want_d=$(du -s -B1 -l "$J/$s" | cut -f 1)
		want_u=$(($(du_total -b "${all[@]}") - $(du_total -b "${others[@]}")))
		want_ud=$(($(du_total -B1 "${all[@]}") - $(du_total -B1 "${others[@]}")))
		got=$(csql "select bytes, disk_bytes, unique_bytes, unique_disk_bytes from disk_usage
		  where backup_name='src1' and snapshot='$s'")
		if [ "$got" != "$want_b|$want_d|$want_u|$want_ud" ]; then
			t_diag "$when: $s: got $got, du says $want_b|$want_d|$want_u|$want_ud"
			bad=$((bad + 1))
		fi
	done
	t_eq "$bad" 0 "$when: every snapshot's bytes, allocated bytes and unique bytes equal du's"
	JOB_B=$(du_total -b "${all[@]}")
	JOB_D=$(du_total -B1 "${all[@]}")
	t_eq "$(csql "select unique_bytes, unique_disk_bytes from disk_usage where
	  backup_name='src1' and snapshot=''")" "$JOB_B|$JOB_D" \
		"$when: the job's total, each inode once, equals du -sbc / du -sB1c over its snapshots"
	n_rows=$(csql "select bytes from disk_usage where backup_name='src1' and snapshot=''")
	t_eq "$n_rows" "$(du_total '-b -l' "${all[@]}")" "$when: the job's bytes, every link counted, equal du -sbcl"
}

# ---------------------------------------------------------------- backups
tb_run -c "$CONF" backup
t_rc 0 "first backup OK"
t_match "measuring the disk usage of its 5 snapshots" "$T_OUT$T_ERR" \
	"the first backup without figures measures every snapshot once"
check_all "after the first backup"
t_eq "$(csql "select version from schema_versions where part='disk_usage'")" 1 \
	"the migration is recorded in schema_versions"
OLDEST=$(snapshots "$J" | head -n 1)
M_OLD=$(csql "select measured from disk_usage where snapshot='$OLDEST'")

wait_next_second
rm "$SRC/a/f3"
head -c 12345 /dev/urandom >"$SRC/a/f3"
head -c 5000 /dev/urandom >"$SRC/c/added"
tb_run -c "$CONF" backup
t_rc 0 "second backup OK"
t_nomatch "measuring the disk usage of its" "$T_OUT$T_ERR" "the second backup is accounted incrementally"
t_eq "$(csql "select measured from disk_usage where snapshot='$OLDEST'")" "$M_OLD" \
	"the incremental step did not walk the old snapshots again"
check_all "after the second backup"
t_eq "$(snapshots "$J" | wc -l)" 6 "six snapshots"

# ---------------------------------------------------------------- cleanup
tb_run -c "$CONF" cleanup
t_rc 0 "cleanup OK"
t_eq "$(snapshots "$J" | wc -l)" 2 "cleanup removed the four old snapshots"
t_eq "$(csql "select count(*) from disk_usage where snapshot='$OLDEST'")" 0 \
	"a removed snapshot's row is gone"
check_all "after cleanup"

# ---------------------------------------------------------------- reports
tb_run -c "$CONF" dumpstat
t_rc 0 "dumpstat exits 0"
t_match "disk usage of src1: 2 snapshots, .* on disk \($JOB_D bytes, apparent $JOB_B bytes, each inode once\)" \
	"$T_OUT" "dumpstat prints the job's disk usage"

# ---------------------------------------------------------------- forecast
# Ten daily samples growing by 10 GB a day, 50 GB short of a 1 TB capacity today:
# full in 5 days.
C=1000000000000
{
	echo "delete from disk_samples;"
	for k in $(seq 0 9); do
		echo "insert into disk_samples values ('$(date -d "$k days ago" +%F)',
		  $((C - 50000000000 - k * 10000000000)), $C);"
	done
} | sqlite3 -batch "$CATALOG"
FULL=$(date -d "5 days" +%F)

web_config web.metrics_public=yes
web_user admin admin 'secret-pass-1'
web_start
web_login admin 'secret-pass-1' "$TMPD/jar"
M=$(curl -s "$WEB/metrics")
t_match "^tisbackup_job_disk_bytes\{backup_job=\"src1\",[^}]*\} $JOB_D$" "$M" \
	"/metrics: tisbackup_job_disk_bytes equals du -sB1c over the snapshots"
t_match "^tisbackup_job_apparent_bytes\{backup_job=\"src1\",[^}]*\} $JOB_B$" "$M" \
	"/metrics: tisbackup_job_apparent_bytes equals du -sbc"
t_match "^tisbackup_job_snapshots\{backup_job=\"src1\",[^}]*\} 2$" "$M" "/metrics: two snapshots"
t_match "^tisbackup_filesystem_free_bytes\{path=" "$M" "/metrics: the filesystem's free bytes"
R=$(curl -s -b "$TMPD/jar" "$WEB/api/v1/storage")
t_eq "$(printf '%s' "$R" | jq_py '"%s %s %s" % (d["jobs"][0]["name"], d["jobs"][0]["unique_bytes"], d["total"]["unique_disk_bytes"])')" \
	"src1 $JOB_B $JOB_D" "GET /api/v1/storage: the job's total and the grand total"
t_eq "$(printf '%s' "$R" | jq_py 'len(d["samples"]) >= 1 and d["samples"][-1]["day"] == "'"$(date +%F)"'"')" \
	true "GET /api/v1/storage: today's sample"
R=$(curl -s -b "$TMPD/jar" "$WEB/api/v1/storage/src1")
t_eq "$(printf '%s' "$R" | jq_py '[s["name"] for s in d["snapshots"]] == sorted([s["name"] for s in d["snapshots"]], reverse=True) and len(d["snapshots"])')" \
	2 "GET /api/v1/storage/src1: the two snapshots, newest first"
t_eq "$(st_of "$(hcurl -b "$TMPD/jar" "$WEB/api/v1/storage/nosuch")")" 404 "an unknown job is 404"
R=$(curl -s -b "$TMPD/jar" "$WEB/api/v1/storage")
t_eq "$(printf '%s' "$R" | jq_py '"%s %.1f %d %d" % (d["forecast"]["full_day"], d["forecast"]["days_left"], d["forecast"]["samples"], len(d["samples"]))')" \
	"$FULL 5.0 10 10" "GET /api/v1/storage: the forecast's day, days left and samples"
M=$(curl -s "$WEB/metrics")
t_match "^tisbackup_filesystem_full_in_days\{path=\"$BASE\"\} 5.0$" "$M" "/metrics: days until full"
t_match "^tisbackup_filesystem_growth_bytes_per_day\{path=\"$BASE\"\} 10000000000$" "$M" "/metrics: the growth per day"

# The dashboard's Storage section in a real browser (tests/browser/storage.test.mjs).
if ! browser_ready; then
	t_skip "the dashboard's storage section in a browser" "$BROWSER_WHY"
else
	browser_run storage.test.mjs 120 TB_URL="$WEB" TB_ADMIN=admin TB_ADMIN_PW='secret-pass-1' TB_JOB=src1 \
		TB_SNAPSHOTS=2 TB_SAMPLES=10 TB_FULL_DAY="$FULL" \
		TB_SHOT_DIR="${TB_BUILD_ROOT:+$TB_BUILD_ROOT/meson-logs}${TB_BUILD_ROOT:-$TMPD}"
	t_num_ge 6 "$BROWSER_STEPS" "the browser script ran its steps ($BROWSER_STEPS, node exit $BROWSER_RC)"
fi
web_stop

# ---------------------------------------------------------------- checknagios
tb_run -c "$CONF" checknagios
t_rc 1 "full within 14 days (the default): checknagios WARNING"
t_match "^WARNING backups backup filesystem forecast \(tisbackup" "$(printf '%s\n' "$T_OUT" | head -n 1)" \
	"the summary names the forecast"
t_match "^\[backup filesystem forecast\]:WARNING : $BASE will be full in 5.0 days \(on $FULL\)" "$T_OUT" \
	"the forecast line gives the day"
t_match "'backup_fs_full_days'=5.0;14;;0" "$T_OUT" "perfdata: days left and the limit"

sed -i "s/^\[global\]$/[global]\ndisk_forecast_warn_days = 3/" "$CONF"
tb_run -c "$CONF" checknagios
t_rc 0 "disk_forecast_warn_days = 3: OK"
t_nomatch "forecast\]" "$T_OUT" "no forecast line when it does not warn"

tb_run -c "$CONF" dumpstat
t_match "backup filesystem forecast: full on $FULL \(in 5.0 days\)" "$T_OUT" "dumpstat prints the forecast"

sed -i "s/^disk_forecast_warn_days = 3$/disk_forecast_warn_days = soon/" "$CONF"
tb_run -c "$CONF" checknagios
t_rc 3 "a bad disk_forecast_warn_days is a configuration error"
t_match 'tisbackup.ini:[0-9]+: \[global\] disk_forecast_warn_days: ' "$T_OUT$T_ERR" \
	"naming file:line, section and key"

t_done
