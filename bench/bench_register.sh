#!/usr/bin/env bash
#
# register_existing on 30 snapshots of 2,000 files each, chained with
# `cp -al` like rsync --link-dest snapshots (they share most inodes), into
# a fresh catalog each run, against what the original spends on sizes
# alone: one `du -sb` per snapshot, one after the other; and the real
# original's register_existing on the same tree when TISBACKUP_PY_SRC=DIR
# names a checkout of it. Wall and CPU time; medians and ratios. Goal:
# <= 0.1x the original. Not a test.
#
# Usage: bench/bench_register.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_FILES=N files per snapshot, BENCH_SNAPSHOTS=N snapshots,
#        BENCH_COLD=1 drops the page cache before every timed run: needs root,
#        and slows everything else on the machine for a moment;
#        TISBACKUP_PY_SRC=DIR to time the original too)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

RUNS=${1:-10}
NFILES=${BENCH_FILES:-2000}
NSNAP=${BENCH_SNAPSHOTS:-30}
tb_require_binary
tb_require du cp
tb_tmp
bench_cg_setup
bench_original && have_orig=1 || have_orig=0

# Read by cfg_job; nothing connects anywhere.
export CLIENT_KEY=$TMPD/key KNOWN_HOSTS=$TMPD/known_hosts SSHD_PORT=22
cfg_global "$CONF"
cfg_job "$CONF" job "/srv/data" "remote_user = root"
grep -v '^known_hosts_file = ' "$CONF" >"$TMPD/orig.ini" # a key the original refuses
JOB=$BASE/job

# The first snapshot: NFILES files of 0..8 KiB in folders of 100.
NOW=$(date +%s)
first=$JOB/$(date -d "@$((NOW - NSNAP * 86400))" +%Y%m%d-%Hh%Mm%S)
mkdir -p "$first"
for ((i = 0; i < NFILES; i++)); do
	d=$first/d$((i / 100))
	[ -d "$d" ] || mkdir -p "$d"
	head -c $(((i * 7919) % 8192)) /dev/zero >"$d/f$i"
done
# Each next snapshot: hard links to the previous one, 20 files rewritten.
prev=$first
for ((s = NSNAP - 1; s >= 1; s--)); do
	snap=$JOB/$(date -d "@$((NOW - s * 86400))" +%Y%m%d-%Hh%Mm%S)
	cp -al "$prev" "$snap"
	for ((k = 0; k < 20; k++)); do
		j=$(((s * 20 + k) % NFILES))
		f=$snap/d$((j / 100))/f$j
		[ -e "$f" ] || continue
		rm -f "$f"
		head -c $((s * 100 + k)) /dev/zero >"$f"
	done
	prev=$snap
done
echo "snapshots: $(find "$JOB" -mindepth 1 -maxdepth 1 -type d | wc -l), files per snapshot: $NFILES, inodes in all: $(find "$JOB" -type f -printf '%i\n' | sort -u | wc -l)"

COLD=
if [ "${BENCH_COLD:-0}" = 1 ]; then
	COLD=1
	echo "cold cache: the page cache is dropped before every timed run"
fi

# Both must agree on every size.
rm -rf "$BASE/log"
"$TISBACKUP" -c "$CONF" -l warning register_existing || { echo "register_existing failed" >&2; exit 1; }
mismatch=0
for d in "$JOB"/*; do
	want=$(du -sb "$d" | cut -f1)
	got=$(sqlite3 "$CATALOG" "select total_bytes from stats where backup_location='$d'")
	[ "$want" = "$got" ] || { echo "size mismatch for $d: du $want, tisbackup $got"; mismatch=1; }
done
[ $mismatch -eq 0 ] && echo "sizes: identical to du -sb for all $NSNAP snapshots"

du_all() { for d in "$JOB"/*; do du -sb "$d" >/dev/null; done; }
cold() { [ -z "$COLD" ] || { sync; echo 3 >/proc/sys/vm/drop_caches; }; }
tb_w=() tb_c=() du_w=() du_c=() or_w=() or_c=()
for ((r = 0; r < RUNS; r++)); do
	rm -rf "$BASE/log"
	cold
	bench_measure "$TISBACKUP" -c "$CONF" -l warning register_existing
	tb_w+=("$BM_WALL") tb_c+=("$BM_CPU")
	cold
	bench_measure du_all
	du_w+=("$BM_WALL") du_c+=("$BM_CPU")
	if [ $have_orig = 1 ] && [ $r -lt 5 ]; then
		rm -rf "$BASE/log"
		cold
		bench_measure "${ORIG_CMD[@]}" -c "$TMPD/orig.ini" register_existing
		[ "$BM_RC" -eq 0 ] || bench_show_failure original
		or_w+=("$BM_WALL") or_c+=("$BM_CPU")
	fi
done
med() { printf '%s\n' "$@" | bench_median; }
M_TB=$(med "${tb_w[@]}")
M_DU=$(med "${du_w[@]}")

echo
printf 'snapshots x files: %d x %d%s, %d runs (medians)\n' "$NSNAP" "$NFILES" "${COLD:+ (cold cache)}" "$RUNS"
bench_row "du -sb per snapshot (sizes only)" "$M_DU" "$(med "${du_c[@]}")"
bench_row "register_existing (ratio to du)" "$M_TB" "$(med "${tb_c[@]}")" "$M_DU"
if [ $have_orig = 1 ]; then
	M_OR=$(med "${or_w[@]}")
	bench_row "the original's register_existing (to du)" "$M_OR" "$(med "${or_c[@]}")" "$M_DU"
	awk -v a="$M_TB" -v b="$M_OR" 'BEGIN { printf "  ratio tisbackup/original: %.3f (goal <= 0.1)\n", a / b }'
else
	echo "  the original: not measured"
fi
