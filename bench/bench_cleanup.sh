#!/usr/bin/env bash
#
# Cleanup speed: `tisbackup cleanup` removing 10 expired snapshots, each a
# hardlinked copy (cp -al) of the same 20,000-file tree, as incremental
# rsync snapshots are, against `rm -rf` of 10 identical copies. Every
# timed run gets fresh copies (and a fresh catalog for tisbackup), made
# and synced to disk outside the timing; wall and CPU time of each, and the
# real original on the same copies and catalog when TISBACKUP_PY_SRC=DIR
# names a checkout of it. Goal: tisbackup / rm -rf <= 1.0 (medians).
# Prints figures; not a test.
#
# Usage: bench/bench_cleanup.sh [RUNS]   (default 5, at least 3;
#        TISBACKUP=path, default build/tisbackup; BENCH_FILES=N tree size;
#        BENCH_SNAPSHOTS=N expired snapshots, default 10; TISBACKUP_PY_SRC=DIR)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

RUNS=${1:-5}
NFILES=${BENCH_FILES:-20000}
NSNAP=${BENCH_SNAPSHOTS:-10}
[ "$RUNS" -ge 3 ] || RUNS=3
tb_require_binary
tb_require sqlite3 cp rm sync
tb_tmp
bench_cg_setup
bench_original && have_orig=1 || have_orig=0

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
cfg_job "$CONF" bench /srv "backup_retention_time = 5" "remote_user = root"
grep -v '^known_hosts_file = ' "$CONF" >"$TMPD/orig.ini" # a key the original refuses
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

# Check once that cleanup removes what it should.
bash "$TMPD/prep_tb.sh" || { echo "preparation failed" >&2; exit 1; }
"$TISBACKUP" -c "$CONF" -l warning cleanup || { echo "tisbackup cleanup failed" >&2; exit 1; }
left=$(find "$J" -mindepth 1 -maxdepth 1 | wc -l)
[ "$left" -eq 1 ] || { echo "cleanup left $left entries in $J (expected 1)" >&2; exit 1; }

tb_w=() tb_c=() rm_w=() rm_c=() or_w=() or_c=()
for ((r = 0; r < RUNS; r++)); do
	bash "$TMPD/prep_tb.sh"
	bench_measure "$TISBACKUP" -c "$CONF" -l warning cleanup
	tb_w+=("$BM_WALL") tb_c+=("$BM_CPU")
	bash "$TMPD/prep_rm.sh"
	bench_measure rm -rf "$RMDIR"/s*
	rm_w+=("$BM_WALL") rm_c+=("$BM_CPU")
	if [ $have_orig = 1 ]; then
		bash "$TMPD/prep_tb.sh"
		bench_measure "${ORIG_CMD[@]}" -c "$TMPD/orig.ini" cleanup
		[ "$BM_RC" -eq 0 ] || bench_show_failure original
		left=$(find "$J" -mindepth 1 -maxdepth 1 | wc -l)
		[ "$left" -eq 1 ] || echo "warning: the original left $left entries in $J" >&2
		or_w+=("$BM_WALL") or_c+=("$BM_CPU")
	fi
done
med() { printf '%s\n' "$@" | bench_median; }
M_TB=$(med "${tb_w[@]}")
M_RM=$(med "${rm_w[@]}")

echo
printf 'files per snapshot: %d, expired snapshots: %d (hardlinked, cp -al), %d runs (medians)\n' \
	"$NFILES" "$NSNAP" "$RUNS"
bench_row "rm -rf" "$M_RM" "$(med "${rm_c[@]}")"
bench_row "tisbackup cleanup (ratio to rm -rf)" "$M_TB" "$(med "${tb_c[@]}")" "$M_RM"
if [ $have_orig = 1 ]; then
	M_OR=$(med "${or_w[@]}")
	bench_row "the original's cleanup (ratio to rm -rf)" "$M_OR" "$(med "${or_c[@]}")" "$M_RM"
	awk -v a="$M_TB" -v b="$M_OR" 'BEGIN { printf "  ratio tisbackup/original: %.3f\n", a / b }'
else
	echo "  the original: not measured"
fi
awk -v a="$M_TB" -v b="$M_RM" 'BEGIN { printf "  ratio tisbackup/rm -rf: %.3f (goal <= 1.0)\n", a / b }'
