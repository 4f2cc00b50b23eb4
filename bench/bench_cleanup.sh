#!/usr/bin/env bash
#
# Cleanup speed: `tisbackup cleanup` removing 10 expired snapshots, each a
# hardlinked copy (cp -al) of the same 20,000-file tree, as incremental
# rsync snapshots are, against `rm -rf` of 10 identical copies. Every
# timed run gets fresh copies (and a fresh catalog for tisbackup), made
# and synced to disk outside the timing. Goal: tisbackup / rm -rf <= 1.0
# (medians). Prints figures; not a test.
#
# Usage: bench/bench_cleanup.sh [RUNS]   (default 5, at least 3;
#        TISBACKUP=path, default build/tisbackup; BENCH_FILES=N tree size;
#        BENCH_SNAPSHOTS=N expired snapshots, default 10)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-5}
NFILES=${BENCH_FILES:-20000}
NSNAP=${BENCH_SNAPSHOTS:-10}
[ "$RUNS" -ge 3 ] || RUNS=3
tb_require_binary
tb_require sqlite3 cp rm sync
tb_tmp

# ---- the tree: NFILES small files, 100 per folder, two levels deep
SRC=$TMPD/src
echo "building a $NFILES-file tree in $SRC ..."
python3 - "$SRC" "$NFILES" <<'EOF' 2>/dev/null || {
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % ((i // 100) % 10))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
EOF
	for ((i = 0; i < NFILES; i++)); do
		d=$(printf '%s/d%03d/s%02d' "$SRC" $((i / 1000)) $(((i / 100) % 10)))
		((i % 100 == 0)) && mkdir -p "$d"
		printf 'file %d\n' "$i" >"$(printf '%s/f%05d.txt' "$d" "$i")"
	done
}
echo "files: $(find "$SRC" -type f | wc -l), snapshots: $NSNAP"

cfg_global "$CONF"
cfg_job "$CONF" bench /srv "backup_retention_time = 5"
J=$BASE/bench
RMDIR=$TMPD/rmcopy

# ---- preparation scripts (untimed): fresh hardlinked copies, synced
stamp() { date -d "$(date -d "-$1 days" +%F) 12:00:00" +%Y%m%d-%Hh%Mm%S; }
iso() { date -d "$(date -d "-$1 days" +%F) 12:00:00" +%Y-%m-%dT%H:%M:%S.000000; }

{
	echo "set -e"
	echo "rm -rf '$J' '$BASE/log'; mkdir -p '$J' '$BASE/log'"
	echo "cp -al '$SRC' '$J/$(stamp 1)'"
	inserts="insert into stats (backup_name, server_name, backup_start, backup_end, status, log, backup_location, TYPE) values ('bench', 'srv', '$(iso 1)', '$(iso 1)', 'OK', 'ok', '$J/$(stamp 1)', 'BACKUP')"
	for ((i = 0; i < NSNAP; i++)); do
		d=$((10 + i))
		echo "cp -al '$SRC' '$J/$(stamp $d)'"
		inserts+=", ('bench', 'srv', '$(iso $d)', '$(iso $d)', 'OK', 'ok', '$J/$(stamp $d)', 'BACKUP')"
	done
	echo "sqlite3 '$CATALOG' \"create table stats (backup_name TEXT, server_name TEXT, description TEXT, backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT, written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT, backup_location TEXT, TYPE TEXT); create index idx_stats_backup_name on stats(backup_name); create index idx_stats_backup_location on stats(backup_location); create index idx_stats_backup_name_start on stats(backup_name, backup_start); pragma journal_mode=WAL; $inserts;\" >/dev/null"
	echo "sync"
} >"$TMPD/prep_tb.sh"
{
	echo "set -e"
	echo "rm -rf '$RMDIR'; mkdir -p '$RMDIR'"
	echo "cp -al '$SRC' '$RMDIR/fresh'"
	for ((i = 0; i < NSNAP; i++)); do
		echo "cp -al '$SRC' '$RMDIR/s$i'"
	done
	echo "sync"
} >"$TMPD/prep_rm.sh"

TB_CMD="'$TISBACKUP' -c '$CONF' -l warning cleanup"
RM_CMD="rm -rf '$RMDIR'/s*"

# Check once that cleanup removes what it should.
bash "$TMPD/prep_tb.sh" || { echo "preparation failed" >&2; exit 1; }
bash -c "$TB_CMD" || { echo "tisbackup cleanup failed" >&2; exit 1; }
left=$(find "$J" -mindepth 1 -maxdepth 1 | wc -l)
[ "$left" -eq 1 ] || { echo "cleanup left $left entries in $J (expected 1)" >&2; exit 1; }

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

if command -v hyperfine >/dev/null 2>&1; then
	hyperfine --runs "$RUNS" --export-json "$TMPD/bench.json" \
		--prepare "bash '$TMPD/prep_tb.sh'" -n "tisbackup cleanup" "$TB_CMD" \
		--prepare "bash '$TMPD/prep_rm.sh'" -n "rm -rf" "$RM_CMD"
	mapfile -t med < <(grep -o '"median": *[0-9.e+-]*' "$TMPD/bench.json" | sed 's/.*: *//')
	M_TB=${med[0]}
	M_RM=${med[1]}
else
	tb_times=() rm_times=()
	for ((r = 0; r < RUNS; r++)); do
		bash "$TMPD/prep_tb.sh"
		t0=$(date +%s.%N); bash -c "$TB_CMD"; t1=$(date +%s.%N)
		tb_times+=("$(awk "BEGIN{print $t1-$t0}")")
		bash "$TMPD/prep_rm.sh"
		t0=$(date +%s.%N); bash -c "$RM_CMD"; t1=$(date +%s.%N)
		rm_times+=("$(awk "BEGIN{print $t1-$t0}")")
	done
	M_TB=$(printf '%s\n' "${tb_times[@]}" | median)
	M_RM=$(printf '%s\n' "${rm_times[@]}" | median)
fi

echo
printf 'files per snapshot:        %d\n' "$NFILES"
printf 'expired snapshots:         %d (hardlinked, cp -al)\n' "$NSNAP"
printf 'tisbackup cleanup median:  %.3f s\n' "$M_TB"
printf 'rm -rf median:             %.3f s\n' "$M_RM"
ratio=$(awk "BEGIN{printf \"%.3f\", $M_TB/$M_RM}")
printf 'ratio tisbackup/rm -rf:    %s (goal <= 1.0)\n' "$ratio"
