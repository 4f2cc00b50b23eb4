#!/usr/bin/env bash
#
# Grandfather-father-son retention with the real binary, over 400
# synthetic daily snapshots (hardlinked copies of one small tree, made
# with cp -al) and their catalog rows: the exact set that survives is
# computed here independently with date(1) (%F days, %G%V ISO weeks, %Y%m
# months, %Y years) and compared with what cleanup leaves on disk and in
# the catalog. Also: cleanup --explain -d prints one line per snapshot and
# removes nothing; a partial transfer does not stand for its month when a
# good backup of that month exists; the snapshot a running export reads is
# kept; GET /api/v1/jobs/NAME/retention answers the same decisions and
# the job page shows them (tests/browser/retention.test.mjs); a bad
# keep_* value is a configuration error naming file:line.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require sqlite3
tb_require curl
tb_tmp

N=400
J=$BASE/gfs
mkdir -p "$J" "$BASE/log"
cfg_global "$CONF"
cfg_job "$CONF" gfs /srv "backup_retention_time = 3" "keep_daily = 7" "keep_weekly = 4" \
	"keep_monthly = 12" "keep_yearly = 3"

# ---------------------------------------------------------------- the series

mkdir -p "$TMPD/tree/a/b"
for f in 1 2 3 4 5 6 7 8; do printf 'data %s\n' "$f" >"$TMPD/tree/a/b/f$f"; done
declare -a STAMP DAY WEEK MONTH YEAR EPOCH ISO STATE
TODAY=$(date +%F)
i=0
while read -r s d w m y e iso; do
	i=$((i + 1))
	STAMP[i]=$s DAY[i]=$d WEEK[i]=$w MONTH[i]=$m YEAR[i]=$y EPOCH[i]=$e ISO[i]=$iso
	STATE[i]=good
	cp -al "$TMPD/tree" "$J/$s"
done < <(for ((i = 1; i <= N; i++)); do echo "$TODAY $i days ago 01:00:00"; done |
	date -f - '+%Y%m%d-%Hh%Mm%S %F %G%V %Y%m %Y %s %Y-%m-%dT%H:%M:%S.000000')
t_eq "$i" "$N" "$N snapshots, one a day at 01:00 local time"
# The newest snapshot of the month before last is a partial transfer.
P=0
for ((i = 1; i <= N; i++)); do
	if [ "${MONTH[i]}" != "${MONTH[1]}" ] && [ "$P" = 0 ]; then
		M1=${MONTH[i]}
		P=-1
	fi
	if [ "$P" = -1 ] && [ "${MONTH[i]}" != "$M1" ]; then
		P=$i
		STATE[i]=partial
	fi
done
# A running export started at noon the day snapshot 150 was taken.
EXPORTED=150

{
	echo "begin;"
	for ((i = 1; i <= N; i++)); do
		log="rsync backup OK"
		[ "${STATE[i]}" = partial ] && log="rsync backup OK (partial transfer)"
		start=${ISO[i]}
		echo "insert into stats (backup_name, server_name, description, backup_start,
		  backup_end, backup_duration, total_files_count, written_files_count, total_bytes,
		  written_bytes, status, log, backup_location, TYPE) values ('gfs', 'srv', '',
		  '$start', '$start', 0.1, 8, 8, 64, 64, 'OK', '$log', '$J/${STAMP[i]}', 'BACKUP');"
	done
	echo "insert into stats (backup_name, server_name, backup_start, status, log,
	  backup_location, TYPE) values ('gfs', 'srv', '${DAY[EXPORTED]}T12:00:00.000000',
	  'Running', '', '$TMPD/export/gfs', 'EXPORT');"
	echo "commit;"
} >"$TMPD/rows.sql"
# The original's schema (as test_cleanup.sh makes it).
sql "$CATALOG" "create table stats (backup_name TEXT, server_name TEXT, description TEXT,
  backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT,
  written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT,
  backup_location TEXT, TYPE TEXT);
  create index idx_stats_backup_name on stats(backup_name);
  create index idx_stats_backup_location on stats(backup_location);
  create index idx_stats_backup_name_start on stats(backup_name, backup_start);
  pragma journal_mode=WAL;" >/dev/null || t_bail "cannot create the catalog"
sqlite3 -batch "$CATALOG" <"$TMPD/rows.sql" || t_bail "cannot insert the rows"
t_eq "$(sql "$CATALOG" "select count(*) from stats where TYPE = 'BACKUP'")" "$N" \
	"$N snapshot rows in the catalog"

# ---------------------------------------------------------------- expected

declare -A KEEP=()
# keep_bucket COUNT ARRAY: the first COUNT buckets of ARRAY (newest first)
# keep their newest good snapshot (a partial one only when none is good).
keep_bucket() {
	local count=$1 i b=0 cur=none pick=0
	local -n keys=$2
	for ((i = 1; i <= N; i++)); do
		if [ "${keys[i]}" != "$cur" ]; then
			if [ "$pick" -gt 0 ]; then
				KEEP[$pick]=1
				b=$((b + 1))
			fi
			[ "$b" -ge "$count" ] && return
			cur=${keys[i]}
			pick=0
		fi
		if [ "$pick" = 0 ] || { [ "${STATE[i]}" = good ] && [ "${STATE[pick]}" != good ]; }; then
			pick=$i
		fi
	done
	if [ "$pick" -gt 0 ] && [ "$b" -lt "$count" ]; then KEEP[$pick]=1; fi
}
CUT=$(date -d "$(date -d '-3 days' +%F) 00:00:00" +%s)
for ((i = 1; i <= N; i++)); do
	[ "${EPOCH[i]}" -ge "$CUT" ] && KEEP[$i]=1
done
KEEP[1]=1 # the newest good backup
KEEP[$EXPORTED]=1
keep_bucket 7 DAY
keep_bucket 4 WEEK
keep_bucket 12 MONTH
keep_bucket 3 YEAR
EXPECT=$(for i in "${!KEEP[@]}"; do echo "${STAMP[i]}"; done | sort)
NKEEP=$(printf '%s\n' "$EXPECT" | wc -l)
t_diag "expected survivors: $NKEEP of $N (partial snapshot: ${STAMP[P]:-none})"
t_num_ge 15 "$NKEEP" "the policy keeps a few dozen snapshots"

# ---------------------------------------------------------------- explain, dry run

tb_run -c "$CONF" cleanup --explain -d
t_rc 0 "cleanup --explain -d exits 0"
t_match '^\[gfs\] backup_retention_time 3, keep_min_days 0, keep_daily 7, keep_weekly 4, keep_monthly 12, keep_yearly 3' \
	"$T_OUT" "explain prints the job's policy"
t_eq "$(printf '%s\n' "$T_OUT" | grep -c '/gfs/')" "$N" "explain prints one line per snapshot"
t_eq "$(printf '%s\n' "$T_OUT" | grep -c '  keep  ')" "$NKEEP" "explain keeps exactly the expected number"
t_match "  delete  unkept .*${STAMP[N]}" "$T_OUT" "the oldest snapshot is to be deleted (no rule keeps it)"
t_match "  keep  +newest .*${STAMP[1]}" "$T_OUT" "the newest is kept as the newest good backup"
t_match "  keep  +in_use .*${STAMP[EXPORTED]}" "$T_OUT" "the exported snapshot is kept as in use"
if [ "$P" -gt 0 ]; then
	t_match "OK partial  delete  unkept .*${STAMP[P]}" "$T_OUT" \
		"a partial transfer does not stand for its month"
fi
t_eq "$(ls -1 "$J" | wc -l)" "$N" "the dry run removed nothing"

# ---------------------------------------------------------------- the API

web_config
web_user admin admin 'secret-pass-1'
web_start
web_login admin 'secret-pass-1' "$TMPD/jar"
R=$(hcurl -b "$TMPD/jar" "$WEB/api/v1/jobs/gfs/retention")
t_eq "$(st_of "$R")" 200 "GET /api/v1/jobs/gfs/retention answers 200"
API_KEEP=$(body_of "$R" | jq_py '"\n".join(sorted(i["location"].rsplit("/",1)[1] for i in d["items"] if i["action"]=="keep"))')
t_eq "$API_KEEP" "$EXPECT" "the API keeps exactly the expected snapshots"
t_eq "$(body_of "$R" | jq_py 'd["policy"]["kind"]')" gfs "the API names the policy"
t_eq "$(body_of "$R" | jq_py '[i["rules"] for i in d["items"] if i["rule"]=="newest"][0]')" \
	'["age", "newest", "daily", "weekly", "monthly", "yearly"]' \
	"the newest snapshot lists every rule keeping it"
R=$(hcurl -b "$TMPD/jar" "$WEB/api/v1/jobs/nosuch/retention")
t_eq "$(st_of "$R")" 404 "an unknown job's retention is 404"

# The job page's table in a real browser (tests/browser/retention.test.mjs).
if ! browser_ready; then
	t_skip "the job page's retention table in a browser" "$BROWSER_WHY"
else
	browser_run retention.test.mjs 120 TB_URL="$WEB" TB_ADMIN=admin TB_ADMIN_PW='secret-pass-1' TB_JOB=gfs \
		TB_ROWS="$N" TB_KEEP="$NKEEP" TB_KEEP_LIST="$EXPECT" TB_INUSE="${STAMP[EXPORTED]}" \
		TB_SHOT_DIR="${TB_BUILD_ROOT:+$TB_BUILD_ROOT/meson-logs}${TB_BUILD_ROOT:-$TMPD}"
	t_num_ge 7 "$BROWSER_STEPS" "the browser script ran its steps ($BROWSER_STEPS, node exit $BROWSER_RC)"
fi
web_stop

# ---------------------------------------------------------------- the cleanup

tb_run -c "$CONF" cleanup
t_rc 0 "cleanup exits 0"
t_eq "$(ls -1 "$J" | grep -E "$STAMP_RE" | sort)" "$EXPECT" "exactly the expected snapshots survive on disk"
t_eq "$(sql "$CATALOG" "select count(*) from stats where TYPE = 'BACKUP'")" "$NKEEP" \
	"their rows stay BACKUP"
t_eq "$(sql "$CATALOG" "select count(*) from stats where TYPE = 'CLEAN'")" "$((N - NKEEP))" \
	"the others are CLEAN"
t_ok "hardlinked data of the removed snapshots survives in the source tree" test -f "$TMPD/tree/a/b/f1"
tb_run -c "$CONF" cleanup
t_rc 0 "a second cleanup exits 0"
t_eq "$(ls -1 "$J" | grep -E "$STAMP_RE" | sort)" "$EXPECT" "and removes nothing more"

# ---------------------------------------------------------------- bad values

cfg_global "$TMPD/bad.ini" "keep_weekly = -1"
cfg_job "$TMPD/bad.ini" gfs /srv "keep_daily = many"
tb_run -c "$TMPD/bad.ini" cleanup -d
t_rc 3 "a bad keep_* value is a configuration error"
t_match 'bad.ini:[0-9]+: \[gfs\] keep_daily: ' "$T_ERR" "naming file:line, section and key"
t_match 'bad.ini:[0-9]+: \[global\] keep_weekly: ' "$T_ERR" "in [global] too"

t_done
